"""Match a call's arguments to the parameters of a layer, block or function, and
check a value against a parameter's declared choices (`depth in (20, 32) = 20`)."""

from __future__ import annotations

import difflib

from cnndsl.elaborate.values import Table, describe, items_of
from cnndsl.errors import Span, SpecError
from cnndsl.syntax import ast


def match_arguments(callee: str, names: list[str], call) -> dict[str, object]:
    """Map parameter name -> argument expression, checking counts and keywords.
    `call` is an ast.Call or ast.FuncCall (both have args, keywords and a span)."""
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


def allowed_values(param: ast.Param, evaluate) -> tuple | None:
    """The values `param` may take (`variant in VARIANTS`: the table's keys), or None."""
    if param.choices is None:
        return None
    return items_of(evaluate(param.choices), param.choices.span, f"{param.name} in ...")


def check_choice(param: ast.Param, value, evaluate, span: Span | None,
                 given_by: str = "") -> None:
    """SpecError unless `value` is one of the values `param` allows."""
    allowed = allowed_values(param, evaluate)
    if allowed is None or any(_same(value, a) for a in allowed):
        return
    listed = ", ".join(describe(a) for a in allowed)
    source = f" ({given_by})" if given_by else ""
    raise SpecError(f"{param.name} = {describe(value)}{source} is not one of the values "
                    f"{param.name} allows", span, f"choose one of {listed}",
                    notes=() if span == param.span else
                    ((param.span, f"{param.name}'s values are listed here"),))


def _same(a, b) -> bool:
    """Equal as values: 1 and 1.0 alike, but true is not 1 and "1" is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, Table) or isinstance(b, Table):
        return False
    return a == b
