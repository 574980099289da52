"""IR graph: frozen nodes in topological order, each with op, attributes, inputs,
inferred output shape, source span and the chain of block calls that made it."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from cnndsl.errors import Span

# (C, H, W) for feature maps, (F,) after flatten.  The batch dimension is implicit.
Shape = tuple[int, ...]


def format_shape(shape: Shape) -> str:
    return "x".join(str(d) for d in shape)


@dataclass(frozen=True)
class ScopeFrame:
    """One block call, or one labelled group (`features: { ... }`), on the way from
    the network to a node."""

    block: str  # the block definition's name, e.g. "basic"; a group's label
    name: str  # this call's hierarchical name, e.g. "layer2.basic3" or "layer2.0"
    args: tuple[tuple[str, object], ...]  # bound arguments, in declaration order
    span: Span  # the call site
    group: bool = False  # a labelled group of statements, not a block call
    label: str | None = None  # the label that named this call (`layer1: basic_stage(...)`)


@dataclass(frozen=True)
class Node:
    id: int
    op: str
    name: str  # hierarchical, unique in the graph, e.g. "basic3.conv1"
    attrs: Mapping[str, object]
    inputs: tuple[int, ...]
    shape: Shape
    span: Span
    scope: tuple[ScopeFrame, ...] = field(default=())

    def attr(self, key: str, default=None):
        return self.attrs.get(key, default)


def freeze_attrs(attrs: dict) -> Mapping[str, object]:
    return MappingProxyType(dict(attrs))


MAIN_OUTPUT = "output"  # the main output's name unless the spec names it (`output logits`)
DEFAULT_HEAD_WEIGHT = 0.3  # GoogLeNet's (Szegedy et al. 2015, sec. 5), unless the spec says
HEAD_BLOCK = "output"  # the scope frame of an output head's layers; no block can be named so


@dataclass(frozen=True)
class Head:
    """A named side output: an auxiliary classifier tapped off the main path."""

    name: str
    node: int  # the head's result
    tap: int  # the tensor it branches off
    span: Span  # the `output NAME { ... }` statement
    weight: float = DEFAULT_HEAD_WEIGHT  # of its loss in training (the main output's is 1)
    scope: str | None = None  # its layers' scope when labelled (`AuxLogits`); else its name

    @property
    def scope_name(self) -> str:
        return self.scope or self.name


@dataclass
class Graph:
    """A network after elaboration.  ``nodes[i].id == i``; inputs precede users."""

    name: str
    nodes: list[Node]
    output: int
    params: tuple[tuple[str, object], ...] = ()
    path: str = "<string>"
    heads: tuple[Head, ...] = ()  # side outputs, in the order the spec declares them
    output_name: str = MAIN_OUTPUT
    # {block: ((parameter, default), ...)} for the blocks called, where a default is a
    # literal (`stride = 1`): generated classes' constructors take the spec's defaults
    block_defaults: dict[str, tuple[tuple[str, object], ...]] = field(default_factory=dict)
    # block -> the parameters its conditions test (usage.switch_parameters)
    block_switches: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def outputs(self) -> list[tuple[str, int]]:
        """Every output as (name, node id): the main one first, then the heads."""
        return [(self.output_name, self.output), *((h.name, h.node) for h in self.heads)]

    def head_of(self, node: Node) -> str | None:
        """The name of the output head `node` belongs to, or None on the main network."""
        if node.scope and node.scope[0].block == HEAD_BLOCK:
            return next(h.name for h in self.heads if h.scope_name == node.scope[0].name)
        return None

    def __call__(self, depth: int | None = None):
        """`net.graph(depth=1)`: the network's diagram, shown as SVG in Jupyter
        (cnndsl.backends.graph.notebook; imported only when called)."""
        from cnndsl.backends.graph.notebook import Diagram
        return Diagram(self, depth)

    @property
    def input(self) -> Node:
        return self.nodes[0]

    @property
    def output_node(self) -> Node:
        return self.nodes[self.output]

    def layers(self) -> list[Node]:
        """Every node but the input, in declaration order."""
        return self.nodes[1:]

    def users(self) -> list[list[int]]:
        result: list[list[int]] = [[] for _ in self.nodes]
        for node in self.nodes:
            for i in node.inputs:
                result[i].append(node.id)
        return result
