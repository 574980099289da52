"""GraphBuilder: appends IR nodes, infers their shapes, names them, enforces limits."""

from __future__ import annotations

from collections import Counter
from math import prod

from cnndsl.errors import Diagnostic, ShapeError, Span, SpecError
from cnndsl.ir.graph import Node, ScopeFrame, Shape, format_shape, freeze_attrs
from cnndsl.limits import LAYERS, STEPS
from cnndsl.ops.registry import OpDef

# Limits that turn absurd specs into fast, clear errors instead of hangs: the layer
# and statement counts are cnndsl.limits' (docs/limits.md); these two are the
# sizes a tensor can have at all
MAX_DIM = 2 ** 31 - 1
MAX_ELEMENTS = 2 ** 40  # per sample, per tensor


class GraphBuilder:
    def __init__(self):
        self.nodes: list[Node] = []
        self.warnings: list[Diagnostic] = []
        self.warning_scopes: dict[int, tuple[ScopeFrame, ...]] = {}  # index -> call chain
        self._counters: dict[str, Counter] = {}
        self.steps = 0
        self.max_steps, self.max_nodes = STEPS.value(), LAYERS.value()

    def step(self, span: Span) -> None:
        self.steps += 1
        if self.steps > self.max_steps:
            raise SpecError(f"elaboration stopped after {self.max_steps:,} statements", span,
                            f"a repeat count is far larger than any real network needs; "
                            f"{STEPS.hint()}")

    def local_name(self, prefix: str, base: str) -> str:
        counter = self._counters.setdefault(prefix, Counter())
        counter[base] += 1
        # relu6 -> relu6_1, not relu61: a digit-final name keeps its counter apart
        name = f"{base}_{counter[base]}" if base[-1].isdigit() else f"{base}{counter[base]}"
        return f"{prefix}.{name}" if prefix else name

    def add(self, op: OpDef, attrs: dict, inputs: list[int], span: Span,
            scope: tuple[ScopeFrame, ...], name: str | None = None) -> int:
        in_shapes = [self.nodes[i].shape for i in inputs]
        try:
            attrs, shape = op.infer(attrs, in_shapes)
        except ShapeError as exc:
            raise SpecError(exc.message, span, exc.hint) from None
        _check_size(shape, span)
        for message, hint in op.warnings(attrs, in_shapes, shape):
            self.warning_scopes[len(self.warnings)] = scope
            self.warnings.append(Diagnostic("warning", message, span, hint))
        if len(self.nodes) >= self.max_nodes:
            raise SpecError(f"the network has more than {self.max_nodes:,} layers", span,
                            f"a repeat count is far larger than any real network needs; "
                            f"{LAYERS.hint()}")
        prefix = scope[-1].name if scope else ""
        node = Node(id=len(self.nodes), op=op.name,
                    name=name or self.local_name(prefix, op.name),
                    attrs=freeze_attrs(attrs), inputs=tuple(inputs), shape=shape, span=span,
                    scope=scope)
        self.nodes.append(node)
        return node.id


def _check_size(shape: Shape, span: Span) -> None:
    if max(shape) > MAX_DIM or prod(shape) > MAX_ELEMENTS:
        raise SpecError(f"tensor size {format_shape(shape)} is out of range", span,
                        "sizes this large cannot be computed; check the channel counts")
