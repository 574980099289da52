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
    name: str
    args: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True)
class TupleExpr:
    items: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True)
class Conditional:
    """``then if condition else otherwise``; only the chosen side is evaluated."""

    condition: "Expr"
    then: "Expr"
    otherwise: "Expr"
    span: Span


Expr = Union[Literal, NameRef, InputAttr, BlockAttr, Unary, Binary, FuncCall, TupleExpr,
             Conditional]


# ---- statements ------------------------------------------------------------

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
    name: str
    value: Expr
    span: Span


@dataclass(frozen=True)
class InputDecl:
    shape: Expr
    span: Span


@dataclass(frozen=True)
class Path:
    """One branch of a merge: ``path [from NAME] [if COND] { ... } [else ...]``."""

    source: str | None
    condition: Expr | None
    body: "Body"
    otherwise: "Branch | None"
    span: Span


@dataclass(frozen=True)
class Merge:
    kind: str  # "add", "concat" or "mul"
    branches: tuple["Branch", ...]
    span: Span


@dataclass(frozen=True)
class Statement:
    action: Union[Call, Repeat, For, If, Let, InputDecl, Merge]
    bind: str | None
    span: Span


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
class Import:
    path: str
    span: Span


@dataclass(frozen=True)
class Module:
    path: str
    imports: tuple[Import, ...]
    blocks: tuple[BlockDef, ...]
    networks: tuple[NetworkDef, ...]
