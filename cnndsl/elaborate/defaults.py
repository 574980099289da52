"""`defaults { bn(eps=0.001, momentum=0.01); conv(bias=false) }`: layer arguments for
the rest of a body.

Like TF-slim's arg_scope, a `defaults` reaches every layer elaborated after it in
the same body: nested bodies, and the blocks called from there, so a network can
set the batch-norm epsilon of every layer its library blocks make.  An argument
written at the layer wins; a later or inner `defaults` overrides an outer one.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnndsl.elaborate.matching import match_arguments
from cnndsl.errors import Diagnostic, Span, SpecError
from cnndsl.ops import lookup
from cnndsl.syntax import ast


@dataclass
class Setting:
    """One argument a `defaults` sets, already converted, and whether a layer took it."""

    op: str
    arg: str
    value: object
    span: Span
    used: bool = False

    def use(self) -> object:
        self.used = True
        return self.value


Settings = dict[str, dict[str, Setting]]  # op name -> argument -> setting


def read_defaults(stmt: ast.Defaults, evaluate, current: Settings, blocks,
                  created: list[Setting]) -> Settings:
    """The settings in force after `stmt`: `current` with stmt's arguments on top
    (each new one is also appended to `created`, for unused_defaults)."""
    result = {op: dict(args) for op, args in current.items()}
    for call in stmt.calls:
        op = lookup(call.name)
        if op is None:
            what = "a block" if call.name in blocks else "not a layer"
            raise SpecError(f"defaults sets layer arguments; {call.name!r} is {what}",
                            call.span, "give the block's parameter a default instead"
                            if call.name in blocks else "e.g. `defaults { bn(eps=0.001) }`")
        if call.args:
            raise SpecError("defaults takes keyword arguments only", call.args[0].span,
                            f"name the argument, e.g. `{op.name}({op.args[0].name}=...)`"
                            if op.args else None)
        match_arguments(op.name, [a.name for a in op.args], call)  # unknown or repeated
        args = {a.name: a for a in op.args}
        for kw in call.keywords:
            arg = args[kw.name]
            if arg.tensor:
                raise SpecError(f"defaults cannot set {op.name} {kw.name}=, which names a "
                                f"tensor", kw.span, "write it at each layer")
            try:
                value = arg.convert(evaluate(kw.value))
            except ValueError as exc:
                raise SpecError(f"{op.name} {kw.name}: {exc}", kw.value.span) from None
            setting = Setting(op.name, kw.name, value, kw.span)
            result.setdefault(op.name, {})[kw.name] = setting
            created.append(setting)
    return result


def unused_defaults(settings: list[Setting]) -> list[Diagnostic]:
    """A warning for each argument a `defaults` sets that no layer took (one per place:
    a `defaults` in a block is read once per call)."""
    used = {s.span for s in settings if s.used}
    seen: set[Span] = set()
    warnings = []
    for s in settings:
        if s.span not in used and s.span not in seen:
            seen.add(s.span)
            warnings.append(Diagnostic(
                "warning", f"the default {s.op}({s.arg}=...) never applies: no {s.op} after "
                f"it leaves {s.arg} unset", s.span,
                "remove it, or move it above the layers it is for"))
    return warnings
