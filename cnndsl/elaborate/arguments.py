"""Bind a call's positional and keyword arguments to an op's or a block's parameters."""

from __future__ import annotations

import difflib

from cnndsl.elaborate.expressions import Evaluator
from cnndsl.elaborate.late import Late, Pending, late_error
from cnndsl.errors import SpecError
from cnndsl.ir.graph import Shape
from cnndsl.ops.registry import REQUIRED, OpDef, SameAs
from cnndsl.syntax import ast


def _match(callee: str, names: list[str], call: ast.Call) -> dict[str, object]:
    """Map parameter name -> argument expression, checking counts and keywords."""
    if call.keywords and call.args:
        first_keyword = min((kw.span.line, kw.span.column) for kw in call.keywords)
        late = [a for a in call.args if (a.span.line, a.span.column) > first_keyword]
        if late:
            raise SpecError("a positional argument follows a keyword argument", late[0].span,
                            "write positional arguments first, e.g. `conv(64, 3, stride=2)`")
    if len(call.args) > len(names):
        listed = ", ".join(names) if names else "none"
        raise SpecError(f"{callee} takes {len(names)} positional argument"
                        f"{'s' * (len(names) != 1)} ({listed}), got {len(call.args)}",
                        call.args[len(names)].span)
    bound: dict[str, object] = dict(zip(names, call.args))
    for kw in call.keywords:
        if kw.name not in names:
            close = difflib.get_close_matches(kw.name, names, n=2, cutoff=0.5)
            hint = (f"did you mean {' or '.join(repr(c) for c in close)}?" if close
                    else f"{callee} takes: {', '.join(names) or 'no arguments'}")
            raise SpecError(f"{callee} has no argument {kw.name!r}", kw.span, hint)
        if kw.name in bound:
            raise SpecError(f"argument {kw.name!r} of {callee} is given twice", kw.span)
        bound[kw.name] = kw.value
    return bound


def bind_op_args(op: OpDef, call: ast.Call, evaluate: Evaluator) -> dict:
    bound = _match(op.name, [a.name for a in op.args], call)
    attrs: dict[str, object] = {}
    for arg in op.args:
        if arg.name in bound:
            expr = bound[arg.name]
            value = evaluate(expr)
            if isinstance(value, Late):
                if not arg.late:
                    raise late_error(value, f"{op.name} {arg.name}", expr.span)
                attrs[arg.name] = Pending(value, arg.convert, f"{op.name} {arg.name}")
                continue
            try:
                attrs[arg.name] = arg.convert(value)
            except ValueError as exc:
                raise SpecError(f"{op.name} {arg.name}: {exc}", expr.span) from None
        elif arg.default is REQUIRED:
            required = [a.name for a in op.args if a.default is REQUIRED]
            raise SpecError(f"{op.name} needs its {arg.name} ({arg.doc})" if arg.doc
                            else f"{op.name} needs its {arg.name}", call.span,
                            f"write it as {op.name}({', '.join(required)}, ...)")
        elif not isinstance(arg.default, SameAs):
            attrs[arg.name] = arg.convert(arg.default)
    for arg in op.args:
        if isinstance(arg.default, SameAs) and arg.name not in attrs:
            attrs[arg.name] = attrs[arg.default.other]
            if attrs[arg.name] == "global":
                attrs[arg.name] = (1, 1)
    return attrs


def bind_block_args(block: ast.BlockDef, call: ast.Call, evaluate: Evaluator,
                    shape: Shape, index: int = 0) -> dict[str, object]:
    """Argument values by parameter name; defaults see earlier parameters, the block's
    input (`in.channels`) and this call's place among the block's calls (`block.index`)."""
    names = [p.name for p in block.params]
    bound = _match(f"block {block.name}", names, call)
    values: dict[str, object] = {name: evaluate(expr) for name, expr in bound.items()}
    result: dict[str, object] = {}
    for param in block.params:
        if param.name in values:
            result[param.name] = values[param.name]
        elif param.default is not None:
            # defaults see earlier parameters and the block's input (`in.channels`)
            result[param.name] = Evaluator(dict(result), shape, (block.name, index))(
                param.default)
        else:
            raise SpecError(f"block {block.name} needs argument {param.name!r}", call.span,
                            f"call it as {block.name}({', '.join(names)})",
                            notes=((block.span, f"{block.name} is defined here"),))
    return result
