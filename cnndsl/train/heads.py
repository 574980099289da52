"""Training a network with output heads (auxiliary classifiers, docs/training.md).

The objective is the main output's cross-entropy plus each head's, weighted as the
spec says (`output aux1(weight=0.3) { ... }`: GoogLeNet's 0.3 per head, Szegedy et
al. 2015, sec. 5; Inception-v3's 0.4, torchvision's reference recipe) or as
`--aux-weight NAME=W` overrides it.  Accuracy, validation and checkpoints use the
main output alone: in eval mode the module returns only that.
"""

from __future__ import annotations

import torch.nn.functional as F

from cnndsl.ir.graph import format_shape
from cnndsl.train.errors import TrainError


def loss_weights(net, overrides: dict[str, float]) -> dict[str, float]:
    """Each output's loss weight by name, the main output (weight 1) first, in the
    order the module returns them.  TrainError for an override naming no head, or a
    head whose scores do not have the main output's shape."""
    main, *heads = net.graph.outputs
    weights = {main[0]: 1.0, **{h.name: h.weight for h in net.graph.heads}}
    for name, weight in overrides.items():
        if name not in weights or name == main[0]:
            known = ", ".join(h.name for h in net.graph.heads) or "none: the spec has no heads"
            raise TrainError(f"--aux-weight {name}={weight:g}: {net.name} has no output head "
                             f"{name!r} (its heads: {known})",
                             hint="the main output's weight is 1; set the heads' relative to it")
        weights[name] = weight
    shape = net.graph.output_node.shape
    for name, node in heads:
        other = net.graph.nodes[node].shape
        if other != shape:
            raise TrainError(f"output head {name!r} makes {format_shape(other)} scores, the main "
                             f"output {format_shape(shape)}: both are trained on the same labels",
                             hint="end the head with fc(classes), as the main output")
    return weights


def objective(outputs, labels, weights: dict[str, float], label_smoothing: float):
    """(the weighted sum of the outputs' losses, which the optimiser minimises, and each
    output's own loss), from the module's result in training: a tensor, or the named
    tuple of every output, main first."""
    values = outputs if isinstance(outputs, tuple) else (outputs,)
    if len(values) != len(weights):
        raise TrainError(f"the model returned {len(values)} outputs in training, the spec "
                         f"has {len(weights)} ({', '.join(weights)})")
    losses = [F.cross_entropy(v.float(), labels, label_smoothing=label_smoothing)
              for v in values]
    total = losses[0]
    for weight, loss in zip(list(weights.values())[1:], losses[1:]):
        total = total + weight * loss
    return total, losses


def main_output(outputs):
    """The main output's scores from the module's result (for accuracy)."""
    return outputs[0] if isinstance(outputs, tuple) else outputs


def head_columns(weights: dict[str, float]) -> list[str]:
    """metrics.csv's extra columns: each output's own training loss (with heads only)."""
    return [f"train_loss_{name}" for name in weights] if len(weights) > 1 else []
