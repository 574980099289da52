"""Normalisation: batch, layer, group and instance norm, local response normalisation."""

from __future__ import annotations

from math import prod

from cnndsl.errors import ShapeError
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


# -- per-sample normalisation: statistics of each sample alone, the same in training and
# -- inference; a learnt per-channel scale and shift when affine

def _affine_params(a, inputs, out) -> int:
    return 2 * inputs[0][0] if a["affine"] else 0


def _sample_norm_ops(a, inputs, out) -> int:
    # fvcore's norm_flop_counter: 5 per element with the affine map, 4 without
    return prod(inputs[0]) * (5 if a["affine"] else 4)


_EPS_AFFINE = (Arg("eps", A.positive_number, 1e-5), Arg("affine", A.boolean, True))

register(OpDef(
    name="layernorm", args=_EPS_AFFINE, infer=_same, params=_affine_params,
    other_ops=_sample_norm_ops, fvcore_extra=_sample_norm_ops, label=lambda a: "layernorm",
    aliases=("layer_norm",),
    doc="Layer normalisation (Ba et al. 2016) over the channels of each pixel of a feature map "
        "(ConvNeXt's LayerNorm2d), or over the features of a flat vector.",
))


def _groupnorm_infer(a, inputs):
    c = inputs[0][0]
    if c % a["groups"]:
        divisors = [d for d in range(1, min(c, 64) + 1) if c % d == 0]
        raise ShapeError(f"groupnorm groups={a['groups']} must divide the {c} input channels",
                         f"group counts that divide {c}: {', '.join(map(str, divisors))}"
                         + (", ..." if c > 64 else ""))
    return dict(a), inputs[0]


register(OpDef(
    name="groupnorm", args=(Arg("groups", A.positive_int, doc="channel groups"), *_EPS_AFFINE),
    infer=_groupnorm_infer, params=_affine_params, other_ops=_sample_norm_ops,
    fvcore_extra=_sample_norm_ops, label=lambda a: f"groupnorm {a['groups']}",
    aliases=("group_norm",),
    doc="Group normalisation (Wu & He 2018): each group of channels over all its pixels; "
        "groupnorm(1) normalises over C, H and W together.",
))


def _instancenorm_infer(a, inputs):
    feature_map("instancenorm", inputs[0])
    return dict(a), inputs[0]


register(OpDef(
    name="instancenorm",
    args=(Arg("eps", A.positive_number, 1e-5), Arg("affine", A.boolean, False)),
    infer=_instancenorm_infer, params=_affine_params, other_ops=_sample_norm_ops,
    fvcore_extra=_sample_norm_ops, label=lambda a: "instancenorm",
    aliases=("instance_norm",),
    doc="Instance normalisation (Ulyanov et al. 2016): each channel of each sample over its "
        "pixels; PyTorch's InstanceNorm2d (no running statistics).",
))
