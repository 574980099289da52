"""Max and average pooling: windowed, global and adaptive."""

from __future__ import annotations

from fractions import Fraction

from cnndsl.errors import ShapeError
from cnndsl.ir.graph import format_shape
from cnndsl.ops import args as A
from cnndsl.ops.registry import Arg, OpDef, SameAs, Window, register
from cnndsl.ops.spatial import feature_map, resolve_pads, stride_warnings, window_output


def _label(kind):
    def label(a) -> str:
        if a["kernel"] == "global":
            return f"{kind} global"
        k = format_shape(a["kernel"])
        s = a["stride"][0] if a["stride"][0] == a["stride"][1] else format_shape(a["stride"])
        return f"{kind} {k}" + (f"/{s}" if a["stride"] != (1, 1) else "") + (
            ", ceil" if a["ceil"] else "")
    return label


def _infer(kind):
    def infer(a, inputs):
        c, h, w = feature_map(kind, inputs[0])
        if a["kernel"] == "global":
            return {**a, "stride": (h, w), "pad": (0, 0, 0, 0)}, (c, 1, 1)
        pads = resolve_pads(a["pad"], a["kernel"], a["stride"], (h, w))
        for p, k in zip(pads[:2], a["kernel"]):
            if p > k // 2:
                raise ShapeError(f"{kind} padding {p} is more than half the kernel "
                                 f"{format_shape(a['kernel'])}",
                                 "PyTorch and ONNX allow at most kernel // 2 padding for pooling")
        oh, ow = window_output(kind, _label(kind)(a), (h, w), a["kernel"], a["stride"], pads,
                               ceil=a["ceil"], is_pool=True)
        return {**a, "pad": pads}, (c, oh, ow)
    return infer


def _window(a, inputs) -> Window:
    c, h, w = inputs[0]
    kernel = (h, w) if a["kernel"] == "global" else a["kernel"]
    return Window(kernel, a["stride"], a["pad"])


def _window_ops(a, inputs, out) -> int:
    kh, kw = (inputs[0][1], inputs[0][2]) if a["kernel"] == "global" else a["kernel"]
    return out[0] * out[1] * out[2] * kh * kw


def _global_input(a, inputs, out) -> int:
    # fvcore counts adaptive average pooling (global pooling in torchvision) as one op per input
    c, h, w = inputs[0]
    return c * h * w if a["kernel"] == "global" else 0


def _warnings(a, inputs, out):
    if a["kernel"] == "global":
        return []
    return stride_warnings(inputs[0][1:], a["kernel"], a["stride"], a["pad"], a["ceil"])


_COMMON = (Arg("kernel", A.pool_kernel, doc="window size, or global"),
           Arg("stride", A.positive_pair, SameAs("kernel"), doc="defaults to the kernel"),
           Arg("pad", A.padding, 0),
           Arg("ceil", A.boolean, False, doc="ceil mode: keep a last partial window"))

register(OpDef(
    name="maxpool", args=_COMMON, infer=_infer("maxpool"), window=_window,
    other_ops=_window_ops, label=_label("maxpool"), warnings=_warnings,
    aliases=("max_pool", "maxpool2d"),
    doc="Max pooling; maxpool(global) is global max pooling.",
))

register(OpDef(
    name="avgpool",
    args=_COMMON + (Arg("count_pad", A.boolean, True,
                        doc="count padded zeros in the average (PyTorch's default)"),),
    infer=_infer("avgpool"), window=_window, other_ops=_window_ops,
    fvcore_extra=_global_input, label=_label("avgpool"), warnings=_warnings,
    aliases=("avg_pool", "avgpool2d"),
    doc="Average pooling; avgpool(global) is global average pooling.",
))


def _adaptive(kind):
    def infer(a, inputs):
        c, h, w = feature_map(f"adaptive_{kind}", inputs[0])
        return dict(a), (c, *a["size"])

    def window(a, inputs):
        c, h, w = inputs[0]
        oh, ow = a["size"]
        # the widest window adaptive pooling uses, and its smallest step
        return Window((-(-h // oh), -(-w // ow)), (max(1, h // oh), max(1, w // ow)), (0,) * 4)

    def ops(a, inputs, out):
        c, h, w = inputs[0]
        return c * h * w

    return infer, window, ops


for _kind, _extra in (("avgpool", True), ("maxpool", False)):
    _infer_a, _window_a, _ops_a = _adaptive(_kind)
    register(OpDef(
        name=f"adaptive_{_kind}", args=(Arg("size", A.positive_pair, doc="output HxW"),),
        infer=_infer_a, window=_window_a, other_ops=_ops_a,
        fvcore_extra=_ops_a if _extra else (lambda a, i, o: 0),
        label=lambda a, k=_kind: f"adaptive {k} {format_shape(a['size'])}",
        doc=f"Adaptive {_kind[:3]} pooling to a fixed output size (torchvision's classifiers).",
    ))


def _crop_infer(a, inputs):
    c, h, w = feature_map("crop", inputs[0])
    if (a["size"] is None) == (a["like"] is None):
        raise ShapeError("crop takes a size (HxW) or like=NAME, " +
                         ("not both" if a["size"] else "and got neither"),
                         "e.g. `crop(56)`, `crop(56x48)` or `crop(like=up)`")
    like, size = a["like"], a["size"]
    if like is not None:
        if len(like.shape) != 3:
            raise ShapeError(f"crop(like={like.name}): {like.name} is a flat vector of "
                             f"{like.shape[0]} features, not a feature map")
        size = like.shape[1:]
    ch, cw = size
    if ch > h or cw > w:
        raise ShapeError(f"crop to {ch}x{cw} needs a map at least that large, got {h}x{w}",
                         "crop the larger tensor to the size of the smaller one")
    # the centre; an odd margin leaves its extra row/column at the bottom/right
    return {**a, "size": (ch, cw), "like": like and like.name,
            "top": (h - ch) // 2, "left": (w - cw) // 2}, (c, ch, cw)


def _optional(convert):
    return lambda v: None if v is None else convert(v)


def _crop_label(a) -> str:
    return f"crop {format_shape(a['size'])}" + (f" like {a['like']}" if a["like"] else "")


register(OpDef(
    name="crop",
    args=(Arg("size", _optional(A.positive_pair), None,
              doc="HxW to keep, taken from the centre"),
          Arg("like", _optional(lambda t: t), None, tensor=True,
              doc="a named value whose HxW to crop to")),
    infer=_crop_infer,
    label=_crop_label,
    doc="Centre crop to a size or to a named value's size (U-Net's copy and crop: "
        "`path from skip { crop(like=up) }`).",
))


def _upsample_infer(a, inputs):
    c, h, w = feature_map("upsample", inputs[0])
    if a["mode"] not in ("nearest", "bilinear"):
        raise ShapeError(f"upsample mode must be nearest or bilinear, got {a['mode']!r}")
    sh, sw = a["scale"]
    return dict(a), (c, h * sh, w * sw)


def _mode(v):
    if v not in ("nearest", "bilinear"):
        raise ValueError(f'expected "nearest" or "bilinear", got {v!r}')
    return v


def _upsample_window(a, inputs):
    """Each output pixel lies 1/scale input pixels from its neighbour and reads one
    input pixel (nearest) or two per axis (bilinear)."""
    k = 1 if a["mode"] == "nearest" else 2
    return Window((k, k), tuple(Fraction(1, s) for s in a["scale"]), (0, 0, 0, 0))


def _scale_label(scale) -> str:
    return f"x{scale[0]}" if scale[0] == scale[1] else f"x{format_shape(scale)}"


register(OpDef(
    name="upsample",
    args=(Arg("scale", A.positive_pair, 2, doc="integer scale factor, e.g. 2 or 2x1"),
          Arg("mode", _mode, "nearest", doc='"nearest" or "bilinear" (align_corners=false)')),
    infer=_upsample_infer,
    window=_upsample_window,
    other_ops=lambda a, inputs, out: (out[0] * out[1] * out[2]) * (1 if a["mode"] == "nearest"
                                                                  else 4),
    label=lambda a: f"upsample {_scale_label(a['scale'])}, {a['mode']}",
    doc="Upsampling by an integer factor (U-Net and FPN decoders, long skips).",
))
