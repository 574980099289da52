"""Convolution."""

from __future__ import annotations

from cnndsl.errors import ShapeError
from cnndsl.ir.graph import format_shape
from cnndsl.ops import args as A
from cnndsl.ops.registry import Arg, OpDef, Window, register
from cnndsl.ops.spatial import (effective_kernel, feature_map, resolve_pads, stride_warnings,
                                window_output)


def _label(a) -> str:
    kh, kw = a["kernel"]
    k = f"{kh}x{kw}"
    stride = a["stride"][0] if a["stride"][0] == a["stride"][1] else "x".join(map(str, a["stride"]))
    text = f"conv {k}" + (f"/{stride}" if a["stride"] != (1, 1) else "") + f", {a['channels']}"
    if a["groups"] > 1:
        text += f", groups {a['groups']}"
    if a["dilation"] != (1, 1):
        text += f", dilation {a['dilation'][0]}"
    return text


def _infer(a, inputs):
    c, h, w = feature_map("conv", inputs[0])
    groups = a["groups"]
    if c % groups or a["channels"] % groups:
        raise ShapeError(f"groups={groups} must divide both the input channels ({c}) and the "
                         f"output channels ({a['channels']})",
                         "pick a group count that divides both, e.g. a power of two")
    k = effective_kernel(a["kernel"], a["dilation"])
    pads = resolve_pads(a["pad"], k, a["stride"], (h, w))
    oh, ow = window_output("conv", _label(a), (h, w), k, a["stride"], pads)
    return {**a, "in_channels": c, "pad": pads}, (a["channels"], oh, ow)


def _params(a, inputs, out) -> int:
    kh, kw = a["kernel"]
    return a["channels"] * (a["in_channels"] // a["groups"]) * kh * kw + (
        a["channels"] if a["bias"] else 0)


def _macs(a, inputs, out) -> int:
    kh, kw = a["kernel"]
    return out[0] * out[1] * out[2] * (a["in_channels"] // a["groups"]) * kh * kw


def _window(a, inputs) -> Window:
    return Window(effective_kernel(a["kernel"], a["dilation"]), a["stride"], a["pad"])


def _overpadding(pads, kernel) -> list[tuple[str, str | None]]:
    """Padding of k or more on a side adds border outputs that see nothing but zeros."""
    top, left, bottom, right = pads
    if max(top, bottom) < kernel[0] and max(left, right) < kernel[1]:
        return []
    return [(f"padding {max(pads)} is as large as the {format_shape(kernel)} kernel: the "
             f"outermost outputs see only padding",
             f"pad={kernel[0] // 2} keeps the size of the map (`pad=same` at any stride)")]


def _warnings(a, inputs, out):
    kernel = effective_kernel(a["kernel"], a["dilation"])
    return _overpadding(a["pad"], kernel) + stride_warnings(inputs[0][1:], kernel,
                                                            a["stride"], a["pad"])


register(OpDef(
    name="conv",
    args=(Arg("channels", A.positive_int, doc="output channels"),
          Arg("kernel", A.positive_pair, doc="3, or 1x7 for non-square"),
          Arg("stride", A.positive_pair, 1),
          Arg("pad", A.padding, 0, doc="int, HxW, (top, left, bottom, right), same or valid"),
          Arg("dilation", A.positive_pair, 1),
          Arg("groups", A.positive_int, 1),
          Arg("bias", A.boolean, True)),
    infer=_infer, params=_params, macs=_macs, window=_window, label=_label,
    warnings=_warnings, aliases=("conv2d", "convolution"),
    doc="2-D convolution; input channels are inferred.",
))
