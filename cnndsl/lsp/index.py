"""From source positions to the IR nodes they produced.

Every node keeps the span of the statement that made it and the chain of block calls
it sits in (cnndsl/ir/graph.py), so a position in any file maps to the layers
written there (all their instances: a block's line runs once per call) and to the
block calls made there (each call's nodes, output and bound arguments).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnndsl.errors import Span
from cnndsl.ir.graph import Graph, Node, ScopeFrame


@dataclass
class CallInstance:
    """One run of a block call: its frame (name, bound arguments) and its nodes."""

    frame: ScopeFrame
    nodes: list[int] = field(default_factory=list)

    @property
    def output(self) -> int:
        # The call's result is its last node: a later node inside the call could only
        # reach the network output through the result (a block's named values stay
        # inside it), and dead ones are pruned.
        return self.nodes[-1]


@dataclass
class Anchor:
    """A span of source text and what it produced there."""

    span: Span
    layers: list[int] = field(default_factory=list)  # nodes made by this very statement
    calls: dict[str, CallInstance] = field(default_factory=dict)  # by hierarchical name

    def outputs(self) -> list[int]:
        """Each instance's result: the layers themselves, or each call's output."""
        return self.layers + [call.output for call in self.calls.values()]


class NodeIndex:
    def __init__(self, graph: Graph | None):
        self.graph = graph
        self.by_path: dict[str, dict[Span, Anchor]] = {}
        if graph is None:
            return
        for node in graph.nodes[1:]:  # not the input, whose span is the network's
            self._anchor(node.span).layers.append(node.id)
            for frame in node.scope:
                if frame.group:  # a labelled group is no block call to describe
                    continue
                anchor = self._anchor(frame.span)
                anchor.calls.setdefault(frame.name, CallInstance(frame)).nodes.append(node.id)

    def _anchor(self, span: Span) -> Anchor:
        anchors = self.by_path.setdefault(span.path, {})
        anchor = anchors.get(span)
        if anchor is None:
            anchor = anchors[span] = Anchor(span)
        return anchor

    def node(self, i: int) -> Node:
        return self.graph.nodes[i]

    def anchors(self, path: str) -> list[Anchor]:
        return list(self.by_path.get(path, {}).values())

    def at(self, path: str, line: int, column: int) -> Anchor | None:
        """The innermost anchor whose span holds (line, column), both 1-based."""
        best = None
        for anchor in self.by_path.get(path, {}).values():
            if contains(anchor.span, line, column) and (
                    best is None or _size(anchor.span) < _size(best.span)):
                best = anchor
        return best


def contains(span: Span, line: int, column: int) -> bool:
    end_line = span.end_line or span.line
    end_column = span.end_column or span.column + 1
    return (span.line, span.column) <= (line, column) <= (end_line, end_column)


def _size(span: Span) -> tuple[int, int]:
    return ((span.end_line or span.line) - span.line,
            (span.end_column or span.column) - span.column)
