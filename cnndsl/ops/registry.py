"""The op table.  One OpDef per layer type holds every front-end rule for it:
its argument signature, shape inference, parameter and cost counts, and its
sampling window (for receptive fields).  Back ends keep their own tables keyed
by the same op names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from cnndsl.ir.graph import Shape

REQUIRED = object()


@dataclass(frozen=True)
class SameAs:
    """An argument default that copies another argument (maxpool's stride = kernel)."""

    other: str


@dataclass(frozen=True)
class NamedTensor:
    """The value of a tensor argument (`crop(like=skip)`): a named value and its shape."""

    name: str
    shape: Shape


@dataclass(frozen=True)
class Arg:
    name: str
    convert: Callable[[object], object]  # raises ValueError with a user-facing message
    default: object = REQUIRED
    doc: str = ""
    tensor: bool = False  # names a tensor (`like=skip`); convert receives a NamedTensor
    # the value may depend on block.count, known only once the network is elaborated
    late: bool = False


def _zero(attrs, inputs, out) -> int:
    return 0


@dataclass(frozen=True)
class Window:
    """How a node samples its input spatially: effective kernel, stride, padding."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, left, bottom, right (ONNX order)


@dataclass(frozen=True)
class OpDef:
    name: str
    args: tuple[Arg, ...]
    # (attrs, input shapes) -> (resolved attrs, output shape); raises ShapeError
    infer: Callable[[dict, list[Shape]], tuple[dict, Shape]]
    doc: str
    params: Callable[[dict, list[Shape], Shape], int] = _zero
    buffers: Callable[[dict, list[Shape], Shape], int] = _zero
    # multiply-accumulates in fvcore's convention for conv and fc (the papers' figure)
    macs: Callable[[dict, list[Shape], Shape], int] = _zero
    # other arithmetic: elementwise ops, normalisation, pooling (reported separately)
    other_ops: Callable[[dict, list[Shape], Shape], int] = _zero
    # what fvcore adds beyond conv and fc (eval batch norm, adaptive pooling)
    fvcore_extra: Callable[[dict, list[Shape], Shape], int] = _zero
    # spatial sampling window; None for pointwise ops
    window: Callable[[dict, list[Shape]], Window | None] = lambda attrs, inputs: None
    # short label for tables and diagrams, e.g. "conv 3x3/2, 128"
    label: Callable[[dict], str] | None = None
    # lint rules: (attrs, inputs, out) -> (message, hint) warnings
    warnings: Callable[[dict, list[Shape], Shape], list[tuple[str, str | None]]] = (
        lambda attrs, inputs, out: [])
    arity: int = 1  # inputs taken; 0 = any number >= 2 (merges)
    aliases: tuple[str, ...] = field(default=())

    def describe(self, attrs: dict) -> str:
        return self.label(attrs) if self.label else self.name


OPS: dict[str, OpDef] = {}
ALIASES: dict[str, str] = {}


def register(op: OpDef) -> OpDef:
    for name in (op.name, *op.aliases):
        if name in OPS or name in ALIASES:
            raise ValueError(f"op {name!r} is registered twice")
    OPS[op.name] = op
    for alias in op.aliases:
        ALIASES[alias] = op.name
    return op


def lookup(name: str) -> OpDef | None:
    return OPS.get(ALIASES.get(name, name))


def all_names() -> list[str]:
    return sorted([*OPS, *ALIASES])
