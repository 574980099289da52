"""Analysis passes: plain functions over the IR, run in order by `analyse`.

Each pass returns one value per node; `analyse` zips them into LayerStats.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil, prod

from cnndsl.ir.graph import Graph, Node
from cnndsl.ops import OPS

BYTES_PER_ELEMENT = 4  # float32


@dataclass(frozen=True)
class Cost:
    params: int
    buffers: int
    macs: int  # conv + fc multiply-accumulates (fvcore's convention, the papers' figure)
    other_ops: int  # BN, pooling, activations, adds: reported separately
    fvcore_extra: int  # what fvcore adds to conv + fc (eval BN, adaptive pooling)


@dataclass(frozen=True)
class OutputCost:
    """One output of the network and what its own layers cost (Analysis.by_output)."""

    name: str
    shape: tuple[int, ...]
    params: int
    macs: int
    weight: float  # of its loss in training: 1 for the main output, the spec's for a head


@dataclass(frozen=True)
class ReceptiveField:
    size: tuple[int, int]  # input pixels one output value sees (height, width)
    jump: tuple  # input pixels between neighbouring outputs (a Fraction after upsampling)


def costs(graph: Graph) -> list[Cost]:
    result = []
    nodes = graph.nodes
    for node in nodes:
        op, attrs, out = OPS[node.op], node.attrs, node.shape
        ins = [nodes[i].shape for i in node.inputs]
        result.append(Cost(op.params(attrs, ins, out), op.buffers(attrs, ins, out),
                           op.macs(attrs, ins, out), op.other_ops(attrs, ins, out),
                           op.fvcore_extra(attrs, ins, out)))
    return result


def receptive_fields(graph: Graph) -> list[ReceptiveField]:
    """r_out = r_in + (k_eff - 1) * j_in and j_out = j_in * s, per spatial axis;
    a merge takes the largest field of its branches.  Upsampling has a stride of
    1/scale, so jumps after it are fractions; sizes are reported rounded up."""
    exact: list[tuple[tuple, tuple]] = []  # (size, jump) per node, ints or Fractions
    nodes = graph.nodes
    for node in nodes:
        if not node.inputs:
            exact.append(((1, 1), (1, 1)))
            continue
        if len(node.inputs) == 1:
            size, jump = exact[node.inputs[0]]
        else:
            ins = [exact[i] for i in node.inputs]
            size = tuple(max(f[0][axis] for f in ins) for axis in (0, 1))
            # a Cx1x1 gate (mul) sees everything, but the map keeps its own spacing
            full = [exact[i] for i in node.inputs if nodes[i].shape[1:] == node.shape[1:]]
            jump = tuple(max(f[1][axis] for f in full or ins) for axis in (0, 1))
        window = OPS[node.op].window(node.attrs, [nodes[i].shape for i in node.inputs])
        if window is not None:
            size = tuple(r + (k - 1) * j for r, k, j in zip(size, window.kernel, jump))
            jump = tuple(j * s for j, s in zip(jump, window.stride))
        exact.append((size, jump))
    return [ReceptiveField(tuple(ceil(r) for r in size), tuple(_whole(j) for j in jump))
            for size, jump in exact]


def _whole(value):
    """An int where the value is whole (1, not Fraction(1, 1))."""
    return int(value) if value == int(value) else value


def activation_bytes(graph: Graph) -> list[int]:
    return [prod(node.shape) * BYTES_PER_ELEMENT for node in graph.nodes]


@dataclass(frozen=True)
class LayerStats:
    node: Node
    cost: Cost
    receptive_field: ReceptiveField
    activation_bytes: int


@dataclass
class Analysis:
    graph: Graph
    nodes: list[LayerStats]  # input first

    @property
    def layers(self) -> list[LayerStats]:
        return self.nodes[1:]

    def total(self, field: str) -> int:
        return sum(getattr(s.cost, field) for s in self.nodes)

    @property
    def total_params(self) -> int:
        return self.total("params")

    @property
    def total_macs(self) -> int:
        return self.total("macs")

    @property
    def fvcore_macs(self) -> int:
        return self.total("macs") + self.total("fvcore_extra")

    @property
    def activation_bytes(self) -> int:
        return sum(s.activation_bytes for s in self.layers)

    @property
    def output_field(self) -> ReceptiveField:
        return self.nodes[self.graph.output].receptive_field

    def by_output(self) -> list[OutputCost]:
        """Each output with the parameters and MACs of its own layers: the main
        network's (everything outside the heads), then each head's.  They add up to
        the totals; the main entry is what inference in eval mode runs."""
        own: dict[str | None, list[int]] = {}
        for s in self.nodes:
            cost = own.setdefault(self.graph.head_of(s.node), [0, 0])
            cost[0] += s.cost.params
            cost[1] += s.cost.macs
        main = self.graph.output_name
        weights = {h.name: h.weight for h in self.graph.heads}
        return [OutputCost(name, self.graph.nodes[node].shape,
                           *own.get(None if name == main else name, (0, 0)),
                           weights.get(name, 1.0))
                for name, node in self.graph.outputs]


PASSES = (costs, receptive_fields, activation_bytes)


def analyse(graph: Graph) -> Analysis:
    columns = [run(graph) for run in PASSES]
    return Analysis(graph, [LayerStats(node, *values)
                            for node, *values in zip(graph.nodes, *columns)])
