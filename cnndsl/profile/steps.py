"""The module cnndsl builds, split into one callable per IR node.

Each step runs exactly what the generated `forward` runs for that node: the
PyTorch back end's emitter table gives the call template (`{self}({0})`,
`torch.cat([{0}, {1}], 1)`, a pad before an asymmetric conv, ...) and the
submodule is looked up by the node's hierarchical name (docs/ir.md: node
`basic3.conv1` is submodule `basic3.conv1`).  Running the steps in node order
therefore computes the same thing as `module(x)`, one node at a time, so each
node can be timed on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from cnndsl.backends.torch.emitters import EmitContext, emit
from cnndsl.ir.graph import Graph, Node


@dataclass(frozen=True)
class Step:
    node: Node
    run: Callable  # (*input tensors) -> output tensor
    last_use: tuple[int, ...]  # node ids no later step reads: dropped after this one


def build_steps(graph: Graph, module) -> list[Step]:
    """One Step per layer (every node but the input), in node order."""
    import torch
    from torch import nn
    ctx = EmitContext(graph, graph.users())
    last: dict[int, int] = {}  # node id -> id of the last node reading it
    for node in graph.layers():
        for i in node.inputs:
            last[i] = node.id
    steps = []
    for node in graph.layers():
        emission = emit(node, ctx)
        submodule = None if not emission.callee else module.get_parameter(node.name) \
            if emission.init else module.get_submodule(node.name)  # a layer scale: a parameter
        args = [f"a{i}" for i in range(len(node.inputs))]
        body = emission.call.replace("{self}", "m").format(*args)
        source = f"lambda {', '.join(args)}: {body}"
        run = eval(compile(source, f"<cnndsl step {node.name}>", "eval"),  # noqa: S307
                   {"torch": torch, "nn": nn, "m": submodule})
        done = tuple(i for i in dict.fromkeys(node.inputs) if last[i] == node.id)
        steps.append(Step(node, run, done))
    return steps


def run_steps(steps: list[Step], x, after: Callable[[Step, object], None] | None = None,
              outputs: list[int] | None = None):
    """Compute the network on `x` step by step; `after(step, output)` runs after each.
    Returns the last node's value, or, given `outputs` (node ids), theirs as a list
    (a head's result is never read, so it is never freed)."""
    values = {0: x}
    for step in steps:
        out = step.run(*(values[i] for i in step.node.inputs))
        values[step.node.id] = out
        for i in step.last_use:  # free intermediates as the generated forward does
            del values[i]
        if after is not None:
            after(step, out)
    return out if outputs is None else [values[i] for i in outputs]
