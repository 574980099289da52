"""Ops that reshape or join tensors: input, flatten, fully connected, channel padding,
add, mul, concat."""

from __future__ import annotations

from math import prod

from cnndsl.errors import ShapeError
from cnndsl.ir.graph import format_shape
from cnndsl.ops import args as A
from cnndsl.ops.registry import Arg, OpDef, SameAs, Window, register


def _input_infer(a, inputs):
    return dict(a), a["shape"]


register(OpDef(name="input", args=(), infer=_input_infer, arity=-1,
               label=lambda a: "input", doc="The network input (declared with `input`)."))


def _flatten_infer(a, inputs):
    return dict(a), (prod(inputs[0]),)


def _flatten_window(a, inputs):
    # every output feature sees the whole feature map
    if len(inputs[0]) != 3:
        return None
    size = inputs[0][1:]
    return Window(size, size, (0, 0, 0, 0))


register(OpDef(name="flatten", args=(), infer=_flatten_infer, window=_flatten_window,
               doc="Flatten CxHxW to one vector of C*H*W features."))


def _fc_infer(a, inputs):
    shape = inputs[0]
    if len(shape) != 1:
        if shape[1:] == (1, 1):
            hint = f"add `flatten` first: after global pooling it gives {shape[0]} features"
        else:
            hint = (f"add `flatten` first ({prod(shape)} features), or `avgpool(global); flatten` "
                    f"for {shape[0]}")
        raise ShapeError(f"fc needs a flat vector, but its input is a {format_shape(shape)} "
                         f"feature map", hint)
    return {**a, "in_features": shape[0]}, (a["features"],)


register(OpDef(
    name="fc",
    args=(Arg("features", A.positive_int, doc="output features"), Arg("bias", A.boolean, True)),
    infer=_fc_infer,
    params=lambda a, i, o: a["in_features"] * a["features"] + (a["features"] if a["bias"] else 0),
    macs=lambda a, i, o: a["in_features"] * a["features"],
    label=lambda a: f"fc {a['features']}", aliases=("linear",),
    doc="Fully connected layer on a flat vector; input features are inferred.",
))


def _pad_channels_infer(a, inputs):
    return dict(a), (inputs[0][0] + a["before"] + a["after"], *inputs[0][1:])


register(OpDef(
    name="pad_channels",
    args=(Arg("before", A.non_negative_int, doc="zero channels added before the first"),
          Arg("after", A.non_negative_int, SameAs("before"),
              doc="zero channels added after the last (default: as many as before)")),
    infer=_pad_channels_infer,
    label=lambda a: f"pad_channels {a['before']}+{a['after']}",
    doc="Zero channels before and after the input's (no parameters): ResNet's option A "
        "shortcut, `maxpool(1, stride=2); pad_channels(c // 4)` (He et al. 2016, sec. 4.2).",
))


def _add_infer(a, inputs):
    first = inputs[0]
    for other in inputs[1:]:
        if other != first:
            shapes = " and ".join(format_shape(s) for s in inputs)
            raise ShapeError(f"add needs branches of the same shape, got {shapes}",
                             _add_hint(first, other))
    return dict(a), first


def _add_hint(a: tuple, b: tuple) -> str:
    """What would make two branch shapes equal, as a lecture would fix it."""
    if len(a) == len(b) == 1:
        return f"end both branches with the same number of features, e.g. `fc({max(a[0], b[0])})`"
    if len(a) != len(b):
        return "both branches must be feature maps, or both flat vectors"
    (ca, ha, wa), (cb, hb, wb) = a, b
    big, small = max(ha, hb), min(ha, hb)
    if (ha, wa) == (hb, wb):
        return (f"the channels differ: give the shortcut a projection, "
                f"`path {{ conv({max(ca, cb)}, 1, bias=false); bn }}`")
    stride = round(big / max(1, small))
    if stride >= 2 and all(-(-max(x, y) // stride) == min(x, y) for x, y in ((ha, hb), (wa, wb))):
        return (f"one branch is downsampled {stride}x: give the shortcut the same stride, "
                f"`path {{ conv({max(ca, cb)}, 1, stride={stride}, bias=false); bn }}`")
    return (f"the maps are {ha}x{wa} and {hb}x{wb}: an unpadded convolution shrinks the map; "
            f"pad=k//2 keeps it (pad=1 for 3x3, pad=2 for 5x5)")


register(OpDef(name="add", args=(), infer=_add_infer, arity=0,
               other_ops=lambda a, inputs, out: prod(out) * (len(inputs) - 1),
               doc="Element-wise sum of branches (residual connections)."))


def _concat_infer(a, inputs):
    ranks = {len(s) for s in inputs}
    if ranks == {1}:
        return dict(a), (sum(s[0] for s in inputs),)
    if ranks != {3} or len({s[1:] for s in inputs}) != 1:
        shapes = ", ".join(format_shape(s) for s in inputs)
        hint = ("give each branch the same strides and padding (e.g. pad=1 for 3x3, "
                "pad=2 for 5x5, maxpool(3, stride=1, pad=1))")
        if ranks == {3}:
            smallest = min((s[1:] for s in inputs), key=prod)
            hint += f", or crop the larger maps to the smallest: `crop({format_shape(smallest)})`"
        raise ShapeError(f"concat needs branches of the same spatial size, got {shapes}", hint)
    return dict(a), (sum(s[0] for s in inputs), *inputs[0][1:])


def _mul_infer(a, inputs):
    """Element-wise product; a Cx1x1 branch scales each channel (a gate)."""
    out = max(inputs, key=prod)
    for shape in inputs:
        gate = len(out) == 3 and shape == (out[0], 1, 1)
        if shape != out and not gate:
            shapes = " and ".join(format_shape(s) for s in inputs)
            what = (f", or a {out[0]}x1x1 gate for a {format_shape(out)} map," if len(out) == 3
                    else " (flat vectors of one length),")
            raise ShapeError(f"mul needs branches of the same shape{what} got {shapes}",
                             "a channel gate is `avgpool(global)` then 1x1 convolutions ending "
                             f"in {out[0] if len(out) == 3 else 'C'} channels and a sigmoid")
    return dict(a), out


register(OpDef(name="mul", args=(), infer=_mul_infer, arity=0,
               other_ops=lambda a, inputs, out: prod(out) * (len(inputs) - 1),
               doc="Element-wise product of branches; a Cx1x1 branch gates the channels "
                   "(squeeze-and-excitation, attention)."))


register(OpDef(name="concat", args=(), infer=_concat_infer, arity=0,
               doc="Concatenate branches along channels (Inception, DenseNet)."))
