"""The graph as it runs at test time: what an inference build compiles.

Four rewrites, each exact in eval mode:

- output heads (auxiliary classifiers), which eval mode does not run, are
  left out;
- batch norm that directly follows a conv or fc layer whose result nothing
  else reads is folded into that layer (it gains a bias; Ioffe & Szegedy 2015,
  section 3.2);
- dropout and stochastic depth (drop_path) are the identity in eval mode and
  are removed;
- an activation whose input nothing else reads, and whose input is a fresh
  tensor (not the network's input, not a view), may overwrite it
  (``inplace=True``): without a backward pass nothing needs the old values.

Node names stay as they were, so the folded layer keeps its weights' keys;
the folded batch norm's keys disappear (cnndsl.backends.torch.inference)."""

from __future__ import annotations

from dataclasses import replace

from cnndsl.ir.graph import Graph, Node, freeze_attrs

FOLDABLE = ("conv", "fc")
REMOVED = ("dropout", "drop_path")  # the identity in eval mode
# activations PyTorch can run in place, and the producers whose result may be
# overwritten (not a view of another tensor, not the caller's input)
IN_PLACE = ("relu", "relu6", "leaky_relu", "hardswish", "hardsigmoid", "silu", "elu", "mish")
FRESH = ("conv", "deconv", "pointwise", "bn", "fc", "add", "mul", "concat", "layernorm",
         "groupnorm", "instancenorm", "layer_scale", "scale", "avgpool", "maxpool", "pad_channels")


def plan_folds(graph: Graph) -> dict[int, int]:
    """{conv or fc node id: id of the bn node to fold into it}."""
    users = graph.users()
    plan = {}
    for node in graph.nodes:
        if node.op != "bn":
            continue
        producer = graph.nodes[node.inputs[0]]
        if producer.op in FOLDABLE and users[producer.id] == [node.id]:
            plan[producer.id] = node.id
    return plan


def fold(weight, bias, mean, var, gamma, beta, eps: float):
    """Weights and bias (numpy, float64) of a layer with the batch norm that follows
    it folded in.  ``weight``'s first axis is the output channel (conv: O x I x kh
    x kw, fc: O x I); ``bias``, ``gamma`` and ``beta`` may be None."""
    import numpy as np
    scale = 1.0 / np.sqrt(np.asarray(var, np.float64) + eps)
    if gamma is not None:
        scale = scale * np.asarray(gamma, np.float64)
    shift = -np.asarray(mean, np.float64) * scale
    if beta is not None:
        shift = shift + np.asarray(beta, np.float64)
    if bias is not None:
        shift = shift + np.asarray(bias, np.float64) * scale
    weight = np.asarray(weight, np.float64)
    return weight * scale.reshape(-1, *([1] * (weight.ndim - 1))), shift


def inference_graph(graph: Graph) -> tuple[Graph, dict[str, str]]:
    """(the rewritten graph, {folded layer's name: its batch norm's name})."""
    plan = plan_folds(graph)
    folded_bns = set(plan.values())
    # every node id -> the id whose value it passes on (itself unless removed)
    source: dict[int, int] = {}
    for node in graph.nodes:
        removed = node.id in folded_bns or (node.op in REMOVED and node.inputs)
        source[node.id] = source[node.inputs[0]] if removed else node.id
    # output heads run only in training (cnndsl.backends.torch): not at test time
    kept = [node for node in graph.nodes
            if source[node.id] == node.id and graph.head_of(node) is None]
    new_id = {node.id: k for k, node in enumerate(kept)}
    readers: dict[int, int] = {}
    for node in kept:
        for i in node.inputs:
            readers[source[i]] = readers.get(source[i], 0) + 1
    output = source[graph.output]
    readers[output] = readers.get(output, 0) + 1  # the caller reads the result
    nodes = []
    for node in kept:
        attrs = dict(node.attrs)
        if node.id in plan:
            attrs["bias"] = True
        inputs = tuple(source[i] for i in node.inputs)
        if (node.op in IN_PLACE and inputs and readers[inputs[0]] == 1
                and graph.nodes[inputs[0]].op in FRESH):
            attrs["inplace"] = True
        nodes.append(replace(node, id=new_id[node.id], attrs=freeze_attrs(attrs),
                             inputs=tuple(new_id[i] for i in inputs)))
    folds = {graph.nodes[conv].name: graph.nodes[bn].name for conv, bn in plan.items()
             if conv in new_id}
    return replace(graph, nodes=nodes, output=new_id[output], heads=()), folds
