"""Convolution and transposed convolution."""

from __future__ import annotations

from fractions import Fraction

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


# -- transposed convolution (FCN and U-Net up-convolutions, GAN generators) ------------

def _deconv_label(a) -> str:
    kh, kw = a["kernel"]
    stride = a["stride"][0] if a["stride"][0] == a["stride"][1] else format_shape(a["stride"])
    text = f"deconv {kh}x{kw}" + (f"/{stride}" if a["stride"] != (1, 1) else "")
    return text + f", {a['channels']}" + (f", groups {a['groups']}" if a["groups"] > 1 else "")


def _deconv_infer(a, inputs):
    c, h, w = feature_map("deconv", inputs[0])
    if c % a["groups"] or a["channels"] % a["groups"]:
        raise ShapeError(f"groups={a['groups']} must divide both the input channels ({c}) and "
                         f"the output channels ({a['channels']})")
    if any(o >= s for o, s in zip(a["output_pad"], a["stride"])):
        raise ShapeError(f"output_pad {format_shape(a['output_pad'])} must be smaller than the "
                         f"stride {format_shape(a['stride'])}")
    # PyTorch's ConvTranspose2d: (n - 1) * s - 2p + k + output_padding
    out = tuple((n - 1) * s - 2 * p + k + o for n, s, p, k, o in
                zip((h, w), a["stride"], a["pad"], a["kernel"], a["output_pad"]))
    if min(out) < 1:
        raise ShapeError(f"{_deconv_label(a)} on {h}x{w} gives {format_shape(out)}: padding "
                         f"{format_shape(a['pad'])} removes more than the layer adds",
                         "use less padding")
    return {**a, "in_channels": c}, (a["channels"], *out)


def _deconv_macs(a, inputs, out) -> int:
    """fvcore's convention: every input pixel is multiplied into a k x k output patch."""
    kh, kw = a["kernel"]
    _, h, w = inputs[0]
    return a["in_channels"] * (a["channels"] // a["groups"]) * kh * kw * h * w


def _deconv_window(a, inputs) -> Window:
    """Output pixels lie 1/s input pixels apart; each sees ceil(k/s) input pixels."""
    return Window(tuple(-(-k // s) for k, s in zip(a["kernel"], a["stride"])),
                  tuple(Fraction(1, s) for s in a["stride"]), (0, 0, 0, 0))


register(OpDef(
    name="deconv",
    args=(Arg("channels", A.positive_int, doc="output channels"),
          Arg("kernel", A.positive_pair, doc="2, or 2x2"),
          Arg("stride", A.positive_pair, 1),
          Arg("pad", A.non_negative_pair, 0, doc="removed from each border of the output"),
          Arg("output_pad", A.non_negative_pair, 0, doc="added at the bottom/right (< stride)"),
          Arg("groups", A.positive_int, 1),
          Arg("bias", A.boolean, True)),
    # the same weights as conv: C_in * C_out / groups * kh * kw, plus the bias
    infer=_deconv_infer, params=_params, macs=_deconv_macs, window=_deconv_window,
    label=_deconv_label, aliases=("conv_transpose",),
    doc="Transposed convolution (up-convolution); input channels are inferred.",
))


# -- pointwise: a 1x1 convolution held as a linear layer over the channels ----------

def _pointwise_infer(a, inputs):
    c, h, w = feature_map("pointwise", inputs[0])
    return {**a, "in_channels": c}, (a["channels"], h, w)


register(OpDef(
    name="pointwise",
    args=(Arg("channels", A.positive_int, doc="output channels"),
          Arg("bias", A.boolean, True)),
    # a 1x1 convolution's parameters and multiply-accumulates: channels x in_channels
    # per pixel, plus the bias
    infer=_pointwise_infer,
    params=lambda a, i, o: a["channels"] * a["in_channels"] + (a["channels"] if a["bias"] else 0),
    macs=lambda a, i, o: o[0] * o[1] * o[2] * a["in_channels"],
    label=lambda a: f"pointwise 1x1, {a['channels']}",
    doc="A 1x1 convolution computed as a linear layer over each pixel's channels, its weight "
        "an out x in matrix (nn.Linear on channels-last maps): ConvNeXt's MLP, whose "
        "'pointwise/1x1 convs' are linear layers (Liu et al. 2022, fig. 4; torchvision's "
        "CNBlock).  The same numbers as conv(c, 1); input channels are inferred.",
))
