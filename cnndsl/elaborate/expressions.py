"""Evaluate expressions while a spec is checked: numbers, booleans, sizes like
3x224x224, lists and tables, subscripts, comprehensions, the built-in functions
(cnndsl/elaborate/builtins.py) and the spec's own `def` functions."""

from __future__ import annotations

import difflib
import operator
from dataclasses import dataclass, field

from cnndsl.elaborate.builtins import BUILTINS, BuiltinError
from cnndsl.elaborate.late import Late, late_error
from cnndsl.elaborate.late import value as _value
from cnndsl.elaborate.matching import check_choice, match_arguments
from cnndsl.elaborate.values import (Table, describe, is_number, is_whole, items_of,
                                     list_length_ok, unpack)
from cnndsl.errors import Span, SpecError
from cnndsl.ir.graph import Shape, format_shape
from cnndsl.limits import COMPREHENSION_ITEMS
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
    if b > 64 and abs(a) > 1:  # 2 ** 10 ** 9 would take minutes; a negative power is small
        raise OverflowError
    result = a ** b
    if isinstance(result, complex):  # (-1) ** 0.5: Python's answer, not a number cnndsl uses
        raise ValueError
    return result


_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": _divide,
               "//": operator.floordiv, "%": operator.mod, "**": _power}
_COMPARISON = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
               ">": operator.gt, ">=": operator.ge}

INPUT_ATTRS = {"channels": 0, "height": 1, "width": 2, "features": 0}
BLOCK_ATTRS = ("index", "count")


@dataclass
class Environment:
    """What every expression of a program sees besides its own names: the top-level
    `let` constants and the `def` functions of the spec and its imports."""

    constants: dict[str, object] = field(default_factory=dict)
    functions: dict[str, ast.FuncDef] = field(default_factory=dict)
    calling: list[ast.FuncDef] = field(default_factory=list)  # the `def`s being evaluated
    # comprehension items all expressions may still compute (docs/limits.md)
    items_left: int = field(default_factory=COMPREHENSION_ITEMS.value)

    def spend(self, items: int, span: Span) -> None:
        """Nested comprehensions multiply: stop them before they hang the checker."""
        self.items_left -= items
        if self.items_left < 0:
            raise SpecError(f"the spec's comprehensions compute more than "
                            f"{COMPREHENSION_ITEMS.value():,} values", span,
                            f"far beyond any real network: is a range() too large? "
                            f"({COMPREHENSION_ITEMS.hint()})")


class Evaluator:
    """Evaluates expressions against names (parameters, lets), the program's
    constants and functions, and the current input shape (`in.channels`)."""

    def __init__(self, names: dict[str, object], shape: Shape | None,
                 env: Environment | None = None, block: tuple[str, int] | None = None):
        self.names = names
        self.shape = shape
        self.env = env if env is not None else Environment()
        self.block = block  # (name, index among its calls) of the innermost block call

    def fork(self, names: dict[str, object], shape: Shape | None = None,
             block: tuple[str, int] | None = None) -> "Evaluator":
        """An evaluator of the same program for other names (a block's defaults)."""
        return Evaluator(names, shape, self.env, block)

    def __call__(self, expr) -> object:
        method = getattr(self, "_" + type(expr).__name__)
        return method(expr)

    def _Literal(self, e: ast.Literal):
        return e.value

    def _NameRef(self, e: ast.NameRef):
        if e.name in self.names:
            return self.names[e.name]
        if e.name in self.env.constants:
            return self.env.constants[e.name]
        if e.name in SYMBOLS:
            return e.name
        raise unknown_name(e.name, "parameter", [*self.names, *self.env.constants], e.span)

    def _InputAttr(self, e: ast.InputAttr):
        if self.shape is None:
            hint = ("a function sees only its arguments: pass `in.channels` to it"
                    if self.env.calling else None)
            raise SpecError("`in` has no value here", e.span, hint)
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
        if not is_number(value):
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
            if e.op in ("==", "!=") or (is_number(left) and is_number(right)):
                return _COMPARISON[e.op](left, right)
            raise SpecError(f"cannot compare {show(left)} {e.op} {show(right)}", e.span)
        if isinstance(left, tuple) or isinstance(right, tuple):
            return _list_arithmetic(e, left, right)
        return arithmetic(e.op, left, right, e.span)

    def _FuncCall(self, e: ast.FuncCall):
        fn = BUILTINS.get(e.name)
        if fn is None:
            definition = self.env.functions.get(e.name)
            if definition is None:
                raise unknown_name(e.name, "function", [*BUILTINS, *self.env.functions], e.span)
            return self._call_def(definition, e)
        if e.keywords:
            raise SpecError(f"{e.name}() takes no keyword arguments", e.keywords[0].span,
                            f"call it as {fn.usage}")
        values = [self(a) for a in e.args]
        late = next((v for v in values if isinstance(v, Late)), None)
        if late is not None:
            return Late(lambda counts: self._builtin(e, fn, [_value(v, counts) for v in values]),
                        f"{e.name}(...{late.text}...)", e.span, late.block)
        return self._builtin(e, fn, values)

    def _builtin(self, e: ast.FuncCall, fn, values):
        try:
            result = fn.fn(values)
        except BuiltinError as exc:
            where = e.args[exc.index].span if exc.index is not None and exc.index < len(
                e.args) else e.span
            raise SpecError(exc.message, where, exc.hint) from None
        except (OverflowError, ValueError):  # int(1e400), floor(nan), exp(1000)
            raise SpecError(f"{e.name}() of {show(values[0])} is not a number cnndsl can use",
                            e.span) from None
        if is_number(result) and abs(result) > MAX_MAGNITUDE:
            raise SpecError(f"number too large ({e.name}() gives more than 10**18)", e.span)
        return result

    def _call_def(self, fn: ast.FuncDef, e: ast.FuncCall):
        """A `def` of the spec: arguments bound like a block's, then its lets in
        order, then its result; it sees its arguments and the constants only."""
        if any(f is fn for f in self.env.calling):
            chain = " -> ".join(f.name for f in (*self.env.calling, fn))
            raise SpecError(f"function {fn.name!r} calls itself ({chain})", e.span,
                            "functions cannot be recursive; use a list comprehension",
                            notes=((fn.span, f"{fn.name!r} is defined here"),))
        bound = match_arguments(f"function {fn.name}", [p.name for p in fn.params], e)
        names: dict[str, object] = {}
        self.env.calling.append(fn)
        try:
            inner = self.fork(names)
            for param in fn.params:
                if param.name in bound:
                    names[param.name] = self(bound[param.name])
                elif param.default is not None:
                    names[param.name] = inner(param.default)
                else:
                    raise SpecError(f"function {fn.name} needs argument {param.name!r}",
                                    e.span, notes=((fn.span, f"{fn.name} is defined here"),))
                check_choice(param, names[param.name], inner,
                             bound[param.name].span if param.name in bound else e.span)
            for let in fn.lets:
                names.update(unpack(let.names, inner(let.value), let.span))
            return inner(fn.result)
        except SpecError as exc:  # an error inside the function: say which call it was
            exc.diagnostics[0] = exc.diagnostics[0].with_note(e.span, f"in this call of {fn.name}")
            raise
        finally:
            self.env.calling.pop()

    def _Conditional(self, e: ast.Conditional):
        return self(e.then) if self.condition(e.condition) else self(e.otherwise)

    def _TupleExpr(self, e: ast.TupleExpr):
        return tuple(self(i) for i in e.items)

    _ListExpr = _TupleExpr  # a list and a tuple are the same value

    def _DictExpr(self, e: ast.DictExpr):
        table = {}
        for key_expr, value_expr in zip(e.keys, e.values):
            key = self(key_expr)
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise SpecError(f"a table's keys are strings or whole numbers, got "
                                f"{describe(key)}", key_expr.span)
            if key in table:
                raise SpecError(f"key {describe(key)} appears twice in this table",
                                key_expr.span)
            table[key] = self(value_expr)
        return Table(table)

    def _Index(self, e: ast.Index):
        base, key = self(e.base), self(e.index)
        if isinstance(base, Table):
            if isinstance(key, (str, int)) and not isinstance(key, bool) and key in base:
                return base[key]
            keys = ", ".join(describe(k) for k in base)
            raise SpecError(f"no row {describe(key)} in this table", e.index.span,
                            f"its keys are {keys}" if base else "the table is empty")
        if not isinstance(base, (tuple, str)):
            raise SpecError(f"cannot index {describe(base)}: only lists, sizes, strings and "
                            f"tables can be indexed", e.base.span)
        if not is_whole(key):
            raise SpecError(f"a list index must be a whole number, got {describe(key)}",
                            e.index.span)
        if not -len(base) <= key < len(base):
            last = f"0 to {len(base) - 1}, or -{len(base)} to -1" if base else "none"
            raise SpecError(f"index {key} is out of range for a list of {len(base)} value"
                            f"{'s' * (len(base) != 1)}", e.index.span,
                            f"valid indexes: {last}")
        return base[key]

    def _Slice(self, e: ast.Slice):
        base = self(e.base)
        if not isinstance(base, (tuple, str)):
            raise SpecError(f"cannot slice {describe(base)}: only lists, sizes and strings "
                            f"can be sliced", e.base.span)
        bounds = []
        for part in (e.start, e.stop, e.step):
            value = None if part is None else self(part)
            if value is not None and not is_whole(value):
                raise SpecError(f"slice bounds must be whole numbers, got {describe(value)}",
                                part.span)
            bounds.append(value)
        if bounds[2] == 0:
            raise SpecError("a slice step must not be 0", e.step.span)
        return base[slice(*bounds)]

    def _Comprehension(self, e: ast.Comprehension):
        result = []
        items = items_of(self(e.iterable), e.iterable.span, "a list comprehension")
        self.env.spend(len(items), e.span)
        names = dict(self.names)  # one scope for the loop names, rebound per item
        inner = self.fork(names, self.shape)
        for item in items:
            names.update(unpack(e.names, item, e.iterable.span))
            if e.condition is None or inner.condition(e.condition):
                result.append(inner(e.element))
        list_length_ok(len(result), e.span)
        return tuple(result)

    def _truth(self, value, span: Span) -> bool:
        if isinstance(value, Late):
            raise late_error(value, "a condition", span)
        if not isinstance(value, bool):
            raise SpecError(f"expected true or false, got {show(value)}", span,
                            "conditions compare values, e.g. `stride != 1`")
        return value

    def condition(self, expr) -> bool:
        return self._truth(self(expr), expr.span)


def _list_arithmetic(e: ast.Binary, left, right) -> tuple:
    """`a + b` joins two lists; `[2] * n` repeats one, as in Python."""
    if e.op == "+" and isinstance(left, tuple) and isinstance(right, tuple):
        result = left + right
    elif e.op == "*" and (isinstance(left, tuple) and is_whole(right)
                          or isinstance(right, tuple) and is_whole(left)):
        count = right if isinstance(left, tuple) else left
        list_length_ok(max(0, count) * len(left if isinstance(left, tuple) else right), e.span)
        result = left * right
    else:
        raise SpecError(f"cannot compute {describe(left)} {e.op} {describe(right)}: lists "
                        f"join with + and repeat with * a whole number", e.span)
    list_length_ok(len(result), e.span)
    return result


def arithmetic(op: str, left, right, span: Span):
    if not (is_number(left) and is_number(right)):
        raise SpecError(f"cannot compute {show(left)} {op} {show(right)}: "
                        f"arithmetic needs numbers", span)
    try:
        result = _ARITHMETIC[op](left, right)
    except ZeroDivisionError:
        raise SpecError("division by zero", span) from None
    except OverflowError:
        raise SpecError("number too large", span) from None
    except ValueError:
        base = f"({show(left)})" if left < 0 else show(left)
        raise SpecError(f"{base} ** {show(right)} is not a real number", span,
                        "a negative number has no real fractional power") from None
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
    candidates = list(dict.fromkeys(candidates))
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
