"""Bind a call's positional and keyword arguments to an op's or a block's parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from cnndsl.elaborate.defaults import Settings
from cnndsl.elaborate.expressions import Evaluator
from cnndsl.elaborate.late import Late, Pending, late_error
from cnndsl.elaborate.matching import check_choice, match_arguments
from cnndsl.elaborate.usage import referenced_names
from cnndsl.elaborate.values import describe
from cnndsl.errors import Span, SpecError
from cnndsl.ir.graph import Shape
from cnndsl.ops.registry import REQUIRED, NamedTensor, OpDef, SameAs
from cnndsl.syntax import ast


@dataclass(slots=True)  # one per layer written: kept cheap to make
class CallSite:
    """What binding a layer's arguments needs from where the layer is written."""

    evaluate: Evaluator
    defaults: Settings  # `defaults { ... }` in force here
    origins: dict[str, Span]  # where each `let` here was computed, for error notes
    # a named value (`crop(like=skip)`): resolve(ref, context) of the elaborator
    resolve: Callable[[ast.NameRef, object], NamedTensor]
    context: object

    def tensor(self, ref: ast.NameRef) -> NamedTensor:
        return self.resolve(ref, self.context)


_NONE: dict = {}


def bind_op_args(op: OpDef, call: ast.Call, site: CallSite) -> dict:
    bound = match_arguments(op.name, [a.name for a in op.args], call)
    attrs: dict[str, object] = {}
    scoped = site.defaults.get(op.name, _NONE) if site.defaults else _NONE
    for arg in op.args:
        if arg.name in bound:
            expr = bound[arg.name]
            value = _tensor_argument(op, arg.name, expr, site) if arg.tensor \
                else site.evaluate(expr)
            if isinstance(value, Late):
                if not arg.late:
                    raise late_error(value, f"{op.name} {arg.name}", expr.span)
                attrs[arg.name] = Pending(value, arg.convert, f"{op.name} {arg.name}")
                continue
            try:
                attrs[arg.name] = arg.convert(value)
            except ValueError as exc:
                hint = ("round it where it is computed: round(x), int(x), ceil(x), or a "
                        "rounding rule such as make_divisible"
                        if isinstance(value, float) and not value.is_integer() else None)
                raise SpecError(f"{op.name} {arg.name}: {exc}", expr.span, hint,
                                notes=_origin_notes(expr, site)) from None
        elif arg.name in scoped:
            attrs[arg.name] = scoped[arg.name].use()
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


def _tensor_argument(op: OpDef, name: str, expr, site: CallSite) -> NamedTensor:
    if not isinstance(expr, ast.NameRef):
        raise SpecError(f"{op.name} {name}= names a tensor, e.g. `{name}=skip`", expr.span,
                        "name the tensor with `-> NAME` after the layer that makes it")
    return site.tensor(expr)


def _origin_notes(expr, site: CallSite) -> tuple[tuple[Span, str], ...]:
    """Notes pointing at the `let`s that computed the names in a rejected argument."""
    names = sorted(referenced_names(expr) & site.origins.keys())
    return tuple((site.origins[n], f"{n} = {describe(site.evaluate.names[n])} is computed here")
                 for n in names if n in site.evaluate.names)


def bind_block_args(block: ast.BlockDef, call: ast.Call, evaluate: Evaluator,
                    shape: Shape, index: int = 0) -> dict[str, object]:
    """Argument values by parameter name; defaults see earlier parameters, the block's
    input (`in.channels`) and this call's place among the block's calls (`block.index`)."""
    names = [p.name for p in block.params]
    bound = match_arguments(f"block {block.name}", names, call)
    values: dict[str, object] = {name: evaluate(expr) for name, expr in bound.items()}
    result: dict[str, object] = {}
    for param in block.params:
        if param.name in values:
            result[param.name] = values[param.name]
        elif param.default is not None:
            # defaults see earlier parameters and the block's input (`in.channels`)
            result[param.name] = evaluate.fork(dict(result), shape, (block.name, index))(
                param.default)
        else:
            raise SpecError(f"block {block.name} needs argument {param.name!r}", call.span,
                            f"call it as {block.name}({', '.join(names)})",
                            notes=((block.span, f"{block.name} is defined here"),))
        check_choice(param, result[param.name], evaluate.fork(dict(result), shape),
                     bound[param.name].span if param.name in bound else call.span)
    return result
