"""Scaling: a learnt per-channel scale (layer scale) and a constant factor."""

from __future__ import annotations

from math import prod

from cnndsl.ops import args as A
from cnndsl.ops.registry import Arg, OpDef, register


def _same(a, inputs):
    return dict(a), inputs[0]


def _per_element(a, inputs, out) -> int:
    return prod(inputs[0])


register(OpDef(
    name="layer_scale",
    args=(Arg("init", A.number, 1e-6, doc="the scales' initial value"),),
    infer=_same, params=lambda a, inputs, out: inputs[0][0], other_ops=_per_element,
    label=lambda a: f"layer_scale {a['init']:g}", aliases=("layerscale",),
    doc="A learnt scale per channel, initialised small so that a residual branch starts near "
        "zero: ConvNeXt's gamma (Liu et al. 2022, sec. 3.2), CaiT's LayerScale (Touvron et al. "
        "2021).",
))

register(OpDef(
    name="scale",
    args=(Arg("factor", A.number, doc="the constant to multiply by"),),
    infer=_same, other_ops=_per_element, label=lambda a: f"scale {a['factor']:g}",
    doc="Multiply by a constant: Inception-ResNet's residual scaling by 0.1 to 0.3 (Szegedy et "
        "al. 2017, sec. 3.3, figure 20).",
))
