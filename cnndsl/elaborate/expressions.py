"""Evaluate parameter expressions: integers, floats, booleans, sizes like 3x224x224."""

from __future__ import annotations

import difflib
import math
import operator

from cnndsl.elaborate.late import Late, late_error
from cnndsl.elaborate.late import value as _value
from cnndsl.errors import Span, SpecError
from cnndsl.ir.graph import Shape, format_shape
from cnndsl.ops.args import show
from cnndsl.syntax import ast

# Bare words that mean themselves when no parameter has that name.
SYMBOLS = ("same", "valid", "global")
MAX_MAGNITUDE = 10 ** 18  # far beyond any real network; stops 2**10**9 before it hangs


def _divide(a, b):
    if isinstance(a, int) and isinstance(b, int) and a % b == 0:
        return a // b
    return a / b


def _power(a, b):
    if isinstance(b, (int, float)) and abs(b) > 64 and abs(a) > 1:
        raise OverflowError
    return a ** b


_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": _divide,
               "//": operator.floordiv, "%": operator.mod, "**": _power}
_COMPARISON = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
               ">": operator.gt, ">=": operator.ge}


def _round_int(x):
    return int(round(x))


FUNCTIONS = {"min": min, "max": max, "abs": abs, "int": int, "round": _round_int,
             "floor": math.floor, "ceil": math.ceil}

INPUT_ATTRS = {"channels": 0, "height": 1, "width": 2, "features": 0}
BLOCK_ATTRS = ("index", "count")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class Evaluator:
    """Evaluates expressions against parameter bindings and the current input shape."""

    def __init__(self, names: dict[str, object], shape: Shape | None,
                 block: tuple[str, int] | None = None):
        self.names = names
        self.shape = shape
        self.block = block  # (name, index among its calls) of the innermost block call

    def __call__(self, expr) -> object:
        method = getattr(self, "_" + type(expr).__name__)
        return method(expr)

    def _Literal(self, e: ast.Literal):
        return e.value

    def _NameRef(self, e: ast.NameRef):
        if e.name in self.names:
            return self.names[e.name]
        if e.name in SYMBOLS:
            return e.name
        raise unknown_name(e.name, "parameter", self.names, e.span)

    def _InputAttr(self, e: ast.InputAttr):
        if self.shape is None:
            raise SpecError("`in` has no value here", e.span)
        index = INPUT_ATTRS.get(e.attr)
        if index is None:
            raise unknown_name(e.attr, "attribute of `in`", list(INPUT_ATTRS), e.span)
        if len(self.shape) == 1 and e.attr in ("height", "width"):
            raise SpecError(f"in.{e.attr} is undefined: the input here is a flat vector of "
                            f"{self.shape[0]} features", e.span)
        return self.shape[index]

    def _BlockAttr(self, e: ast.BlockAttr):
        """block.index: this call's place among the network's calls of the block (from 0);
        block.count: how many calls the network makes (a Late value, see late.py)."""
        if e.attr not in BLOCK_ATTRS:
            raise unknown_name(e.attr, "attribute of `block`", BLOCK_ATTRS, e.span)
        if self.block is None:
            raise SpecError(f"block.{e.attr} is defined only inside a block", e.span,
                            "use it in a block's body or parameter defaults")
        name, index = self.block
        if e.attr == "index":
            return index
        return Late(lambda counts: counts[name], "block.count", e.span, name)

    def _Unary(self, e: ast.Unary):
        value = self(e.operand)
        if e.op == "not":
            return not self._truth(value, e.operand.span)
        if isinstance(value, Late):
            return Late(lambda counts: -value.compute(counts), f"-{value.text}", e.span,
                        value.block)
        if not _is_number(value):
            raise SpecError(f"cannot negate {show(value)}", e.span)
        return -value

    def _Binary(self, e: ast.Binary):
        if e.op in ("and", "or"):
            left = self._truth(self(e.left), e.left.span)
            if (e.op == "and") != left:  # short-circuit
                return left
            return self._truth(self(e.right), e.right.span)
        left, right = self(e.left), self(e.right)
        if isinstance(left, Late) or isinstance(right, Late):
            return _late_binary(e, left, right)
        if e.op in _COMPARISON:
            if e.op in ("==", "!=") or (_is_number(left) and _is_number(right)):
                return _COMPARISON[e.op](left, right)
            raise SpecError(f"cannot compare {show(left)} {e.op} {show(right)}", e.span)
        return arithmetic(e.op, left, right, e.span)

    def _FuncCall(self, e: ast.FuncCall):
        fn = FUNCTIONS.get(e.name)
        if fn is None:
            raise unknown_name(e.name, "function", list(FUNCTIONS), e.span)
        values = [self(a) for a in e.args]
        late = next((v for v in values if isinstance(v, Late)), None)
        if late is not None:
            return Late(lambda counts: self._function(e, fn, [_value(v, counts) for v in values]),
                        f"{e.name}(...{late.text}...)", e.span, late.block)
        return self._function(e, fn, values)

    def _function(self, e: ast.FuncCall, fn, values):
        if not values or not all(_is_number(v) for v in values):
            raise SpecError(f"{e.name}() needs numbers, got "
                            f"({', '.join(show(v) for v in values)})", e.span)
        if e.name not in ("min", "max") and len(values) != 1:
            raise SpecError(f"{e.name}() takes one number, got {len(values)}", e.span)
        try:
            result = fn(*values) if e.name in ("min", "max") else fn(values[0])
        except (OverflowError, ValueError):  # int(1e400), floor(nan)
            raise SpecError(f"{e.name}() of {show(values[0])} is not a number cnndsl can use",
                            e.span) from None
        if abs(result) > MAX_MAGNITUDE:
            raise SpecError(f"number too large ({e.name}() gives more than 10**18)", e.span)
        return result

    def _Conditional(self, e: ast.Conditional):
        return self(e.then) if self.condition(e.condition) else self(e.otherwise)

    def _TupleExpr(self, e: ast.TupleExpr):
        return tuple(self(i) for i in e.items)

    def _truth(self, value, span: Span) -> bool:
        if isinstance(value, Late):
            raise late_error(value, "a condition", span)
        if not isinstance(value, bool):
            raise SpecError(f"expected true or false, got {show(value)}", span,
                            "conditions compare values, e.g. `stride != 1`")
        return value

    def condition(self, expr) -> bool:
        return self._truth(self(expr), expr.span)


def arithmetic(op: str, left, right, span: Span):
    if not (_is_number(left) and _is_number(right)):
        raise SpecError(f"cannot compute {show(left)} {op} {show(right)}: "
                        f"arithmetic needs numbers", span)
    try:
        result = _ARITHMETIC[op](left, right)
    except ZeroDivisionError:
        raise SpecError("division by zero", span) from None
    except OverflowError:
        raise SpecError("number too large", span) from None
    if abs(result) > MAX_MAGNITUDE:
        raise SpecError(f"number too large ({op} gives more than 10**18)", span)
    return result


def _late_binary(e: ast.Binary, left, right) -> Late:
    late = left if isinstance(left, Late) else right
    if e.op in _COMPARISON:
        raise late_error(late, "a comparison", e.span)
    return Late(lambda counts: arithmetic(e.op, _value(left, counts), _value(right, counts),
                                          e.span), f"{show(left)} {e.op} {show(right)}", e.span,
                late.block)


def unknown_name(name: str, kind: str, candidates, span: Span | None) -> SpecError:
    candidates = list(candidates)
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    if close:
        hint = f"did you mean {' or '.join(repr(c) for c in close)}?"
    elif 0 < len(candidates) <= 8:
        hint = f"known here: {', '.join(candidates)}"
    else:
        hint = None
    return SpecError(f"unknown {kind} {name!r}", span, hint)


def shape_value(value, span: Span) -> Shape:
    """An `input` size: 3x224x224 (CxHxW) or a number of features."""
    dims = value if isinstance(value, tuple) else (value,)
    if len(dims) not in (1, 3) or not all(isinstance(d, int) and not isinstance(d, bool)
                                          for d in dims):
        raise SpecError(f"input must be CxHxW (e.g. 3x224x224) or a feature count, got "
                        f"{show(value)}", span)
    if min(dims) < 1:
        raise SpecError(f"input size {format_shape(dims)} has a dimension below 1", span)
    return tuple(dims)
