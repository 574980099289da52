"""Batch-norm folding for inference export.

At test time batch norm is a fixed per-channel affine map,
``y = gamma * (x - mean) / sqrt(var + eps) + beta``, so when it directly
follows a convolution or fully connected layer whose result nothing else
reads, it can be merged into that layer's weights and bias (Ioffe & Szegedy
2015, section 3.2; the lecture's "fused with the previous conv or FC layer").
"""

from __future__ import annotations

import numpy as np

from cnndsl.ir.graph import Graph

FOLDABLE = ("conv", "fc")


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


def fold(weight: np.ndarray, bias: np.ndarray | None, mean: np.ndarray, var: np.ndarray,
         gamma: np.ndarray | None, beta: np.ndarray | None, eps: float
         ) -> tuple[np.ndarray, np.ndarray]:
    """Weights and bias of the layer followed by the batch norm, in float64
    before the final rounding to float32.  ``weight``'s first axis is the
    output channel (conv: O x I x kh x kw, fc: O x I)."""
    scale = 1.0 / np.sqrt(var.astype(np.float64) + eps)
    if gamma is not None:
        scale = scale * gamma
    shift = -mean.astype(np.float64) * scale
    if beta is not None:
        shift = shift + beta
    if bias is not None:
        shift = shift + bias.astype(np.float64) * scale
    folded = weight.astype(np.float64) * scale.reshape(-1, *([1] * (weight.ndim - 1)))
    return folded.astype(np.float32), shift.astype(np.float32)
