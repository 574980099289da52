"""Normalisation: batch norm and local response normalisation."""

from __future__ import annotations

from math import prod

from cnndsl.ops import args as A
from cnndsl.ops.registry import Arg, OpDef, register
from cnndsl.ops.spatial import feature_map


def _same(a, inputs):
    return dict(a), inputs[0]


def _bn_params(a, inputs, out) -> int:
    return 2 * inputs[0][0] if a["affine"] else 0  # gamma and beta


def _bn_buffers(a, inputs, out) -> int:
    return 2 * inputs[0][0]  # running mean and variance


def _bn_ops(a, inputs, out) -> int:
    # at inference batch norm is a per-channel scale and shift (fvcore's count)
    return prod(inputs[0]) * (2 if a["affine"] else 1)


def _bn_label(a) -> str:
    """`bn`, with what differs from PyTorch's defaults (a `defaults { bn(...) }` shows)."""
    changed = [f"{k}={a[k]:g}" for k, default in (("eps", 1e-5), ("momentum", 0.1))
               if a[k] != default]
    if not a["affine"]:
        changed.append("affine=false")
    return "bn " + ", ".join(changed) if changed else "bn"


register(OpDef(
    name="bn",
    args=(Arg("eps", A.positive_number, 1e-5), Arg("momentum", A.momentum, 0.1),
          Arg("affine", A.boolean, True)),
    infer=_same, params=_bn_params, buffers=_bn_buffers, other_ops=_bn_ops,
    fvcore_extra=_bn_ops, label=_bn_label,
    aliases=("batchnorm", "batch_norm"),
    doc="Batch normalisation over channels (of a feature map or a flat vector).",
))


def _lrn_infer(a, inputs):
    feature_map("lrn", inputs[0])
    return dict(a), inputs[0]


register(OpDef(
    name="lrn",
    args=(Arg("size", A.positive_int, 5), Arg("alpha", A.non_negative_number, 1e-4),
          Arg("beta", A.non_negative_number, 0.75), Arg("k", A.non_negative_number, 1.0)),
    infer=_lrn_infer,
    other_ops=lambda a, inputs, out: prod(inputs[0]) * (a["size"] + 3),
    label=lambda a: f"lrn {a['size']}",
    doc="Local response normalisation across channels (AlexNet); alpha is divided by size, "
        "as in PyTorch and ONNX.",
))
