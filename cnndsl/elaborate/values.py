"""The values expressions compute: numbers, booleans, strings, lists and tables.

A list (`[a, b]`), a tuple (`(a, b)`) and a size (`3x224x224`) are one kind of
value, a Python tuple, so a stage table written either way means the same and
converts to a layer argument like `(1, 7)`.  A table (`{"b0": ..., "b1": ...}`)
is a `Table`: a dict that never changes once built, hashable like the rest.
"""

from __future__ import annotations

from cnndsl.errors import Span, SpecError
from cnndsl.ops.args import show

MAX_LIST = 100_000  # values in one list: far beyond any stage table; stops range(10**9)


class Table(dict):
    """A table of rows by key (`{"b0": (1.0, 1.0, 224, 0.2), ...}`), read-only."""

    def __hash__(self) -> int:  # values end up in frozen IR attributes and scope frames
        return hash(tuple(self.items()))


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def describe(value, limit: int = 8) -> str:
    """A value as a spec would write it: `[16, 24, 40]`, `{"b0": ..., "b1": ...}`."""
    if isinstance(value, tuple):
        items = [describe(v, limit) for v in value[:limit]]
        more = f", ... ({len(value)} values)" if len(value) > limit else ""
        return "[" + ", ".join(items) + more + "]"
    if isinstance(value, Table):
        keys = [describe(k) for k in list(value)[:limit]]
        more = ", ..." if len(value) > limit else ""
        return "{" + ", ".join(f"{k}: ..." for k in keys) + more + "}"
    if isinstance(value, str):
        return f'"{value}"'
    return show(value)


def list_length_ok(n: int, span: Span) -> None:
    if n > MAX_LIST:
        raise SpecError(f"a list of {n:,} values is far beyond any real network "
                        f"(the limit is {MAX_LIST:,})", span)


def items_of(value, span: Span, what: str) -> tuple:
    """The values a `for`, a comprehension or `in` goes through: a list's items or a
    table's keys."""
    if isinstance(value, Table):
        return tuple(value)
    if isinstance(value, tuple):
        return value
    raise SpecError(f"{what} needs a list to go through, got {describe(value)}", span,
                    "e.g. `(64, 128, 256)`, `[16, 24, 40]` or `range(4)`")


def unpack(names: tuple[str, ...], value, span: Span) -> dict[str, object]:
    """`let w, d = row` and `for t, c, n, s in table`: one name per value of a list."""
    if len(names) == 1:
        return {names[0]: value}
    if not isinstance(value, tuple) or len(value) != len(names):
        got = f"{len(value)} values" if isinstance(value, tuple) else describe(value)
        raise SpecError(f"{', '.join(names)} needs {len(names)} values, got {got}", span,
                        f"the list has to hold exactly {len(names)} values, one per name")
    return dict(zip(names, value))
