"""AST of a .cnn file: one frozen dataclass per grammar rule, each with a span."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from cnndsl.errors import Span


# ---- expressions -----------------------------------------------------------

@dataclass(frozen=True)
class Literal:
    value: object  # int, float, bool, str or tuple of ints (3x224x224)
    span: Span


@dataclass(frozen=True)
class NameRef:
    name: str
    span: Span


@dataclass(frozen=True)
class InputAttr:
    """``in.channels``, ``in.height``, ``in.width``: the current tensor's shape."""

    attr: str
    span: Span


@dataclass(frozen=True)
class BlockAttr:
    """``block.index``, ``block.count``: the current block call among all of its calls."""

    attr: str
    span: Span


@dataclass(frozen=True)
class Unary:
    op: str  # "-", "not"
    operand: "Expr"
    span: Span


@dataclass(frozen=True)
class Binary:
    op: str  # arithmetic, comparison, "and", "or"
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(frozen=True)
class FuncCall:
    """A built-in function (`max`, `log`, `len`, ...) or a `def` of the spec."""

    name: str
    args: tuple["Expr", ...]
    span: Span
    keywords: tuple["Keyword", ...] = ()


@dataclass(frozen=True)
class TupleExpr:
    items: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True)
class ListExpr:
    """``[a, b, c]``: the same value as the tuple ``(a, b, c)``."""

    items: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True)
class DictExpr:
    """``{"b0": (1.0, 1.0), "b1": (1.0, 1.1)}``: a table of rows by key."""

    keys: tuple["Expr", ...]
    values: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True)
class Index:
    """``widths[i]`` (lists count from 0, negative from the end) or ``table["b3"]``."""

    base: "Expr"
    index: "Expr"
    span: Span


@dataclass(frozen=True)
class Slice:
    """``widths[1:]``, ``widths[:-1]``, ``widths[::2]``: Python's slices."""

    base: "Expr"
    start: "Expr | None"
    stop: "Expr | None"
    step: "Expr | None"
    span: Span


@dataclass(frozen=True)
class Comprehension:
    """``[element for names in iterable if condition]``."""

    element: "Expr"
    names: tuple[str, ...]
    iterable: "Expr"
    condition: "Expr | None"
    span: Span


@dataclass(frozen=True)
class Conditional:
    """``then if condition else otherwise``; only the chosen side is evaluated."""

    condition: "Expr"
    then: "Expr"
    otherwise: "Expr"
    span: Span


Expr = Union[Literal, NameRef, InputAttr, BlockAttr, Unary, Binary, FuncCall, TupleExpr,
             ListExpr, DictExpr, Index, Slice, Comprehension, Conditional]


# ---- statements ------------------------------------------------------------

# Where error recovery (cnndsl.syntax.recover) skipped code it could not read, it
# leaves a Call of this name, which no spec can spell; elaboration stops there.
BROKEN = "<unreadable>"


@dataclass(frozen=True)
class Keyword:
    name: str
    value: Expr
    span: Span


@dataclass(frozen=True)
class Call:
    """A layer, a block call, or (without arguments) a named tensor."""

    name: str
    args: tuple[Expr, ...]
    keywords: tuple[Keyword, ...]
    has_parens: bool
    span: Span


@dataclass(frozen=True)
class Repeat:
    count: Expr
    index: str | None
    body: "Body"
    span: Span


@dataclass(frozen=True)
class For:
    """``for a, b in ((1, 2), (3, 4)) { ... }``: the body once per item of a tuple."""

    names: tuple[str, ...]
    items: Expr
    body: "Body"
    span: Span


@dataclass(frozen=True)
class If:
    condition: Expr
    then: "Body"
    otherwise: "Body | None"
    span: Span


@dataclass(frozen=True)
class Let:
    """``let c = 64``, or ``let w, d = row`` unpacking a list."""

    names: tuple[str, ...]
    value: Expr
    span: Span


@dataclass(frozen=True)
class InputDecl:
    shape: Expr
    span: Span


@dataclass(frozen=True)
class Defaults:
    """``defaults { bn(eps=0.001); conv(bias=false) }``: layer arguments for the rest
    of the body, including the blocks it calls."""

    calls: tuple[Call, ...]
    span: Span


@dataclass(frozen=True)
class Output:
    """``output aux1 { ... }``: a side branch from the current tensor ending in the
    named output (the main path goes on from the tap); ``output logits`` without a
    body, as a network's last line, names its main output."""

    name: str
    body: "Body | None"
    span: Span
    name_span: Span
    weight: "Expr | None" = None  # `output aux1(weight=0.3)`: its loss's weight in training


@dataclass(frozen=True)
class Label:
    """``layer1:`` before a statement or a path: the name of the layer, block call or
    group it makes; ``features: sequential`` also numbers the group's unlabelled
    children 0, 1, 2 ... as nn.Sequential does; a bare ``sequential`` (name None)
    numbers them under the automatic name.  A number (``2:``, name ``"2"``) numbers a
    child of a sequential group explicitly."""

    name: str | None
    sequential: bool
    span: Span

    @property
    def number(self) -> int | None:
        """The number of ``2:``; None for a named or bare label."""
        return int(self.name) if self.name is not None and self.name.isdigit() else None


@dataclass(frozen=True)
class Group:
    """``features: { ... }``: statements gathered under their label's name."""

    body: "Body"
    span: Span


@dataclass(frozen=True)
class Path:
    """One branch of a merge: ``[label:] path [from NAME] [if COND] { ... } [else ...]``."""

    source: str | None
    condition: Expr | None
    body: "Body"
    otherwise: "Branch | None"
    span: Span
    label: Label | None = None


@dataclass(frozen=True)
class Merge:
    kind: str  # "add", "concat" or "mul"
    branches: tuple["Branch", ...]
    span: Span


@dataclass(frozen=True)
class Statement:
    action: Union[Call, Repeat, For, If, Let, InputDecl, Merge, Defaults, Output, Group]
    bind: str | None
    span: Span
    label: Label | None = None


@dataclass(frozen=True)
class Body:
    statements: tuple[Statement, ...]
    span: Span


Branch = Union[Path, Statement, Body]


# ---- top level -------------------------------------------------------------

@dataclass(frozen=True)
class Param:
    name: str
    default: Expr | None
    span: Span
    choices: Expr | None = None  # `variant in VARIANTS = "b0"`: the values allowed


@dataclass(frozen=True)
class BlockDef:
    name: str
    params: tuple[Param, ...]
    body: Body
    span: Span


@dataclass(frozen=True)
class NetworkDef:
    name: str
    params: tuple[Param, ...]
    body: Body
    span: Span


@dataclass(frozen=True)
class FuncDef:
    """``def NAME(params) { let ...; result }``: a value computed from its arguments."""

    name: str
    params: tuple[Param, ...]
    lets: tuple[Let, ...]
    result: Expr
    span: Span


@dataclass(frozen=True)
class Import:
    path: str
    span: Span


@dataclass(frozen=True)
class Module:
    path: str
    imports: tuple[Import, ...]
    blocks: tuple[BlockDef, ...]
    networks: tuple[NetworkDef, ...]
    functions: tuple[FuncDef, ...] = ()
    constants: tuple[Let, ...] = ()  # top-level `let`s, in file order
