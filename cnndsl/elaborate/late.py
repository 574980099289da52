"""Values known only once the whole network is elaborated.

`block.count`, the number of calls of the current block in the network, is
needed for stochastic depth's linear rule (Huang et al. 2016, eq. 4;
torchvision's `stochastic_depth_prob * block_id / (total_blocks - 1)`), yet a
block is called before the network has made all its calls.  So `block.count`
evaluates to a `Late` value: arithmetic on it builds another `Late`, an op
argument declared `late` (drop_path's rate) keeps it, and `resolve_late`
computes every one once the counts are known.  Anything that shapes the network
(channels, repeat counts, conditions) must be known at once, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Mapping

from cnndsl.errors import Span, SpecError
from cnndsl.ir.graph import Graph, ScopeFrame, freeze_attrs

Counts = Mapping[str, int]  # block name -> calls in the network


@dataclass(frozen=True, eq=False)
class Late:
    compute: Callable[[Counts], object]
    text: str  # what the spec wrote, for messages
    span: Span
    block: str  # the block whose block.count it uses

    def __repr__(self) -> str:
        return self.text


def value(v, counts: Counts):
    return v.compute(counts) if isinstance(v, Late) else v


def late_error(v: Late, where: str, span: Span | None) -> SpecError:
    return SpecError(f"{where} cannot use `{v.text}`: block.count is known only once the whole "
                     f"network is elaborated", span or v.span,
                     "use it for a drop_path rate, e.g. drop_path(0.2 * block.index / "
                     "block.count); channels, counts and conditions must be known at once")


@dataclass(frozen=True)
class Pending:
    """An op attribute waiting for the counts: the Late value and its converter."""

    late: Late
    convert: Callable[[object], object]
    what: str  # e.g. "drop_path p"


def resolve_late(graph: Graph, counts: Counts) -> Graph:
    """The graph with every Pending attribute and Late block argument computed."""
    if not any(isinstance(v, Pending) for node in graph.nodes for v in node.attrs.values()):
        if not any(isinstance(v, Late) for node in graph.nodes for f in node.scope
                   for _, v in f.args):
            return graph
    frames: dict[int, ScopeFrame] = {}

    def frame(f: ScopeFrame) -> ScopeFrame:
        if id(f) not in frames:
            args = tuple((k, value(v, counts)) for k, v in f.args)
            frames[id(f)] = f if args == f.args else replace(f, args=args)
        return frames[id(f)]

    nodes = []
    for node in graph.nodes:
        attrs = {k: _attribute(v, counts) for k, v in node.attrs.items()}
        scope = tuple(frame(f) for f in node.scope)
        changed = scope != node.scope or any(isinstance(v, Pending) for v in node.attrs.values())
        nodes.append(replace(node, attrs=freeze_attrs(attrs), scope=scope) if changed else node)
    return replace(graph, nodes=nodes)


def _attribute(v, counts: Counts):
    if not isinstance(v, Pending):
        return v
    result = v.late.compute(counts)
    try:
        return v.convert(result)
    except ValueError as exc:
        raise SpecError(f"{v.what}: {exc} (block.count is {counts[v.late.block]}: the network "
                        f"calls {v.late.block} {counts[v.late.block]} times)",
                        v.late.span) from None
