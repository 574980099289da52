"""The built-in functions of expressions: one row per function in BUILTINS.

They are the math a design rule needs (EfficientNet's round_filters, RegNet's
quantised widths, MobileNet's make_divisible) and the list tools to apply it to
a stage table.  Each takes positional arguments only and raises BuiltinError
with a message for the person who wrote the spec; the evaluator adds the span.
`round` is Python's: halves go to the even neighbour (round(22.5) == 22), as
torch.round and NumPy do, which RegNet's widths rely on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from cnndsl.elaborate.values import MAX_LIST, Table, describe, is_number, is_whole


class BuiltinError(Exception):
    """A bad argument; `index` is the argument to point at (None: the whole call)."""

    def __init__(self, message: str, index: int | None = None, hint: str | None = None):
        super().__init__(message)
        self.message, self.index, self.hint = message, index, hint


@dataclass(frozen=True)
class Builtin:
    name: str
    fn: Callable[[list], object]
    usage: str  # how it is called, for errors and the docs
    doc: str


BUILTINS: dict[str, Builtin] = {}


def builtin(usage: str, doc: str):
    def register(fn):
        name = usage.split("(")[0]
        BUILTINS[name] = Builtin(name, fn, usage, doc)
        return fn
    return register


def _count(values: list, low: int, high: int, usage: str) -> None:
    if not low <= len(values) <= high:
        takes = f"{low}" if low == high else f"{low} to {high}"
        raise BuiltinError(f"{usage.split('(')[0]}() takes {takes} argument"
                           f"{'s' * (high != 1)}, got {len(values)}",
                           hint=f"call it as {usage}")


def _numbers(name: str, values: list) -> None:
    for i, v in enumerate(values):
        if not is_number(v):
            raise BuiltinError(f"{name}() needs numbers, got {describe(v)}", i)


def _one_number(name: str, usage: str):
    def check(values: list) -> float:
        _count(values, 1, 1, usage)
        _numbers(name, values)
        return values[0]
    return check


def _list(name: str, v, i: int = 0) -> tuple:
    if isinstance(v, Table):
        return tuple(v)
    if not isinstance(v, tuple):
        raise BuiltinError(f"{name}() needs a list, got {describe(v)}", i)
    return v


# ---- numbers ------------------------------------------------------------------

@builtin("abs(x)", "absolute value")
def _abs(values):
    return abs(_one_number("abs", "abs(x)")(values))


@builtin("int(x)", "a whole number, rounding toward zero (Python's int)")
def _int(values):
    return int(_one_number("int", "int(x)")(values))


@builtin("floor(x)", "the largest whole number <= x")
def _floor(values):
    return math.floor(_one_number("floor", "floor(x)")(values))


@builtin("ceil(x)", "the smallest whole number >= x (EfficientNet's round_repeats)")
def _ceil(values):
    return math.ceil(_one_number("ceil", "ceil(x)")(values))


@builtin("round(x, digits)", "the nearest whole number, halves to even (Python's round); "
         "with digits, a number rounded to that many decimals")
def _round(values):
    _count(values, 1, 2, "round(x, digits)")
    _numbers("round", values)
    if len(values) == 1:
        return round(values[0])
    if not is_whole(values[1]):
        raise BuiltinError(f"round() digits must be a whole number, got {describe(values[1])}", 1)
    return round(values[0], values[1])


@builtin("log(x, base)", "the natural logarithm of x, or its logarithm to base")
def _log(values):
    _count(values, 1, 2, "log(x, base)")
    _numbers("log", values)
    if values[0] <= 0:
        raise BuiltinError(f"log() of {describe(values[0])} is undefined: it needs a number "
                           f"above 0", 0)
    if len(values) == 1:
        return math.log(values[0])
    if values[1] <= 0 or values[1] == 1:
        raise BuiltinError(f"log() base {describe(values[1])} is undefined: it needs a number "
                           f"above 0 other than 1", 1)
    return math.log(values[0]) / math.log(values[1])


@builtin("exp(x)", "e to the power x")
def _exp(values):
    return math.exp(_one_number("exp", "exp(x)")(values))


@builtin("sqrt(x)", "the square root")
def _sqrt(values):
    x = _one_number("sqrt", "sqrt(x)")(values)
    if x < 0:
        raise BuiltinError(f"sqrt() of {describe(x)} is undefined: it needs a number >= 0", 0)
    return math.sqrt(x)


def _extreme(name: str, pick):
    def fn(values):
        items = _list(name, values[0]) if len(values) == 1 else values
        if not items:
            raise BuiltinError(f"{name}() of an empty list", 0)
        for i, v in enumerate(items):
            if not is_number(v):
                raise BuiltinError(f"{name}() needs numbers, got {describe(v)}",
                                   0 if len(values) == 1 else i)
        return pick(items)
    return fn


builtin("min(a, b, ...)", "the smallest of several numbers, or of one list")(_extreme("min", min))
builtin("max(a, b, ...)", "the largest of several numbers, or of one list")(_extreme("max", max))


@builtin("sum(list)", "the sum of a list of numbers (0 for an empty list)")
def _sum(values):
    _count(values, 1, 1, "sum(list)")
    items = _list("sum", values[0])
    for v in items:
        if not is_number(v):
            raise BuiltinError(f"sum() needs a list of numbers, got {describe(v)} in it", 0)
    return sum(items)


# ---- lists --------------------------------------------------------------------

@builtin("len(list)", "the number of values in a list (or keys in a table, letters in a string)")
def _len(values):
    _count(values, 1, 1, "len(list)")
    if isinstance(values[0], str):
        return len(values[0])
    return len(_list("len", values[0]))


@builtin("range(start, stop, step)", "the whole numbers from start (default 0) up to, not "
         "including, stop, as a list: range(3) is [0, 1, 2]")
def _range(values):
    _count(values, 1, 3, "range(start, stop, step)")
    for i, v in enumerate(values):
        if not is_whole(v):
            raise BuiltinError(f"range() needs whole numbers, got {describe(v)}", i)
    start, stop, step = (0, values[0], 1) if len(values) == 1 else (*values[:2], 1)
    if len(values) == 3:
        step = values[2]
    if step == 0:
        raise BuiltinError("range() step must not be 0", 2)
    numbers = range(start, stop, step)
    if len(numbers) > MAX_LIST:
        raise BuiltinError(f"range() of {len(numbers):,} values is far beyond any real network "
                           f"(the limit is {MAX_LIST:,})")
    return tuple(numbers)


@builtin("zip(a, b, ...)", "lists of equal length side by side: zip([1, 2], [3, 4]) is "
         "[(1, 3), (2, 4)]")
def _zip(values):
    if not values:
        raise BuiltinError("zip() needs at least one list", hint="call it as zip(a, b, ...)")
    lists = [_list("zip", v, i) for i, v in enumerate(values)]
    lengths = {len(v) for v in lists}
    if len(lengths) > 1:
        raise BuiltinError(f"zip() of lists of different lengths "
                           f"({', '.join(str(len(v)) for v in lists)})",
                           hint="every list must have one value per row")
    return tuple(zip(*lists))


@builtin("enumerate(list)", "each value with its position: enumerate([16, 24]) is "
         "[(0, 16), (1, 24)]")
def _enumerate(values):
    _count(values, 1, 1, "enumerate(list)")
    return tuple(enumerate(_list("enumerate", values[0])))
