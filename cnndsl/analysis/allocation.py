"""What building a network will allocate, counted from the IR before anything is
allocated, against the limits of cnndsl.limits (docs/limits.md): its parameters,
and one batch's activations (every layer's output and the input, float32)."""

from __future__ import annotations

from math import prod

from cnndsl.analysis.passes import BYTES_PER_ELEMENT, costs
from cnndsl.errors import Span, SpecError
from cnndsl.ir.graph import Graph
from cnndsl.limits import ACTIVATION_BYTES, PARAMS


def allocation_problems(graph: Graph, batch: int = 0) -> list[tuple[str, Span | None, str]]:
    """(message, span, hint) for each allocation limit `graph` exceeds: its
    parameters, and with `batch`, one batch's activations."""
    problems = []
    params = [c.params for c in costs(graph)]
    total = sum(params)
    if total > PARAMS.value():
        biggest = max(range(len(params)), key=params.__getitem__)
        node = graph.nodes[biggest]
        gib = total * BYTES_PER_ELEMENT / (1 << 30)
        problems.append((f"network {graph.name} has {total:,} parameters ({gib:,.1f} GiB as "
                         f"float32; the largest layer, {node.name}, has {params[biggest]:,}), "
                         f"over the limit of {PARAMS.value():,}", node.span, PARAMS.hint()))
    per_sample = sum(prod(node.shape) for node in graph.nodes) * BYTES_PER_ELEMENT
    if per_sample * max(batch, 1) > ACTIVATION_BYTES.value():
        at = f" at batch size {batch}" if batch else " for one sample"
        problems.append((f"{ACTIVATION_BYTES.message(per_sample * max(batch, 1))}{at}",
                         graph.nodes[0].span, ACTIVATION_BYTES.hint()))
    return problems


def check_allocation(graph: Graph, batch: int = 0, allow_large: bool = False) -> None:
    """SpecError before a command allocates more than the limits allow (unless
    --allow-large)."""
    problems = [] if allow_large else allocation_problems(graph, batch)
    if problems:
        message, span, hint = problems[0]
        raise SpecError(message, span, hint)
