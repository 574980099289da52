"""The PyTorch emitter table: one row per IR op (see docs/ir.md for the attributes).

A row turns a node into an `Emission`: the submodule to construct (callee and
arguments; None for ops computed inline in `forward`) and a call template for
`forward`, where `{self}` is the submodule and `{0}`, `{1}`, ... are the input
variables.  A row whose `init` is set makes a parameter of the enclosing module
instead of a submodule (layer scale: torchvision's `CNBlock.layer_scale`), built
by that template from the arguments.  Adding an op to the back end means adding
one row here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from cnndsl.backends.torch import names
from cnndsl.errors import SpecError
from cnndsl.ir.graph import Graph, Node

Arg = tuple  # (keyword or None, value)


@dataclass(frozen=True)
class EmitContext:
    graph: Graph
    users: list[list[int]]  # graph.users(), computed once


# Names of positional constructor arguments, for generic parameter names.
POSITIONAL = {
    "nn.Conv2d": ("in_channels", "out_channels"),
    "nn.ConvTranspose2d": ("in_channels", "out_channels"),
    "nn.Linear": ("in_features", "out_features"),
    "nn.BatchNorm1d": ("num_features",),
    "nn.BatchNorm2d": ("num_features",),
    "nn.LocalResponseNorm": ("size",),
    "nn.LeakyReLU": ("negative_slope",),
    "nn.AdaptiveAvgPool2d": ("output_size",),
    "nn.AdaptiveMaxPool2d": ("output_size",),
    "nn.PReLU": ("num_parameters",),
    "nn.LayerNorm": ("normalized_shape",),
    "nn.GroupNorm": ("num_groups", "num_channels"),
    "nn.InstanceNorm2d": ("num_features",),
    "nn.ChannelShuffle": ("groups",),
    "nn.Parameter": ("channels", "init"),
    "StochasticDepth": ("p", "mode"),
    "ChannelSlice": ("start", "end"),
    "ChannelPad": ("before", "after"),
}

# Keyword arguments an emitter leaves out at PyTorch's default, in the order it writes
# them: calls that differ only in writing one (a depthwise conv's `groups`) are one
# structure, and the default is left out of generated source again (structure.py).
OMITTED_DEFAULTS = {"nn.Conv2d": (("dilation", 1), ("groups", 1), ("bias", True))}

# Ops whose module is not in torch.nn: the generated file defines these classes
# (templates/torch/helpers.py.j2) when the network uses the op.
HELPER_CLASSES = {"drop_path": "StochasticDepth", "slice": "ChannelSlice",
                  "pad_channels": "ChannelPad"}


@dataclass(frozen=True)
class Emission:
    callee: str | None  # e.g. "nn.Conv2d"; None: computed inline, no submodule
    args: tuple[Arg, ...] = ()
    call: str = "{self}({0})"
    notes: tuple[str, ...] = field(default=())
    # a parameter, not a submodule: its constructor, `{0}`, `{1}` ... the arguments
    init: str | None = None


def _pair(v):
    """(3, 3) -> 3, (1, 7) -> (1, 7): PyTorch accepts either."""
    return v[0] if isinstance(v, tuple) and len(v) == 2 and v[0] == v[1] else v


def _symmetric(pad) -> bool:
    top, left, bottom, right = pad
    return top == bottom and left == right


def _pad_call(pad, value: str = "") -> str:
    top, left, bottom, right = pad
    extra = f", value={value}" if value else ""
    return f"{{self}}(nn.functional.pad({{0}}, ({left}, {right}, {top}, {bottom}){extra}))"


def _conv(node: Node, ctx: EmitContext) -> Emission:
    a = node.attrs
    args = [(None, a["in_channels"]), (None, a["channels"]),
            ("kernel_size", _pair(a["kernel"])), ("stride", _pair(a["stride"]))]
    call = "{self}({0})"
    if _symmetric(a["pad"]):  # always written, so 1x1 and 3x3 calls of a block share a class
        args.append(("padding", _pair(a["pad"][:2])))
    else:  # e.g. resolved `same` with an even kernel: pad first, as TensorFlow does
        call = _pad_call(a["pad"])
    if a["dilation"] != (1, 1):
        args.append(("dilation", _pair(a["dilation"])))
    if a["groups"] != 1:
        args.append(("groups", a["groups"]))
    if not a["bias"]:
        args.append(("bias", False))
    return Emission("nn.Conv2d", tuple(args), call)


def _deconv(node: Node, ctx: EmitContext) -> Emission:
    a = node.attrs
    args = [(None, a["in_channels"]), (None, a["channels"]),
            ("kernel_size", _pair(a["kernel"])), ("stride", _pair(a["stride"])),
            ("padding", _pair(a["pad"]))]
    if a["output_pad"] != (0, 0):
        args.append(("output_padding", _pair(a["output_pad"])))
    if a["groups"] != 1:
        args.append(("groups", a["groups"]))
    if not a["bias"]:
        args.append(("bias", False))
    return Emission("nn.ConvTranspose2d", tuple(args), "{self}({0})")


def _pool_size(n: int, k: int, s: int, p: int, ceil: bool) -> int:
    """PyTorch's pooling output size for symmetric padding p."""
    span = n + 2 * p - k
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out


def _pool(kind: str):
    module = {"maxpool": "MaxPool2d", "avgpool": "AvgPool2d"}[kind]

    def emit(node: Node, ctx: EmitContext) -> Emission:
        a = node.attrs
        if a["kernel"] == "global":
            return Emission(f"nn.Adaptive{module[:3]}Pool2d", ((None, 1),))
        args = [("kernel_size", _pair(a["kernel"])), ("stride", _pair(a["stride"]))]
        call = "{self}({0})"
        padding = (0, 0)
        if _symmetric(a["pad"]):
            padding = a["pad"][:2]
            if any(padding):
                args.append(("padding", _pair(padding)))
        elif kind == "avgpool" and not a["count_pad"]:
            raise SpecError("asymmetric padding with count_pad=false has no PyTorch "
                            "equivalent", node.span, "use symmetric padding or count_pad=true")
        else:
            call = _pad_call(a["pad"], 'float("-inf")' if kind == "maxpool" else "")
        if a["ceil"]:
            args.append(("ceil_mode", True))
        if kind == "avgpool" and not a["count_pad"]:
            args.append(("count_include_pad", False))
        _check_pool_shape(node, ctx.graph, padding)
        return Emission(f"nn.{module}", tuple(args), call)
    return emit


def _check_pool_shape(node: Node, graph: Graph, padding) -> None:
    a = node.attrs
    _, h, w = graph.nodes[node.inputs[0]].shape
    top, left, bottom, right = a["pad"]
    sizes = (h + top + bottom - 2 * padding[0], w + left + right - 2 * padding[1])
    got = tuple(_pool_size(n, k, s, p, a["ceil"])
                for n, k, s, p in zip(sizes, a["kernel"], a["stride"], padding))
    if got != tuple(node.shape[1:]):
        raise SpecError(f"{node.op} with padding {a['pad']} and ceil mode gives "
                        f"{got[0]}x{got[1]} in PyTorch, not the checked "
                        f"{node.shape[1]}x{node.shape[2]}", node.span,
                        "use symmetric padding with ceil=true")


def _adaptive(module: str):
    def emit(node: Node, ctx: EmitContext) -> Emission:
        return Emission(f"nn.{module}", ((None, _pair(node.attrs["size"])),))
    return emit


def _bn(node: Node, ctx: EmitContext) -> Emission:
    a = node.attrs
    args = [(None, node.shape[0])]
    if a["eps"] != 1e-5:
        args.append(("eps", a["eps"]))
    if a["momentum"] != 0.1:
        args.append(("momentum", a["momentum"]))
    if not a["affine"]:
        args.append(("affine", False))
    kind = "BatchNorm1d" if len(node.shape) == 1 else "BatchNorm2d"
    return Emission(f"nn.{kind}", tuple(args))


def _lrn(node: Node, ctx: EmitContext) -> Emission:
    a = node.attrs
    return Emission("nn.LocalResponseNorm", ((None, a["size"]), ("alpha", a["alpha"]),
                                              ("beta", a["beta"]), ("k", a["k"])))


# ReLU may overwrite its input when nothing else reads it and the producer's
# backward does not need its own output (as torchvision's nn.ReLU(inplace=True)).
_INPLACE_SAFE_AFTER = {"conv", "deconv", "bn", "add", "concat", "fc"}


def _relu(node: Node, ctx: EmitContext) -> Emission:
    source = ctx.graph.nodes[node.inputs[0]]
    inplace = source.op in _INPLACE_SAFE_AFTER and len(ctx.users[source.id]) == 1
    return Emission("nn.ReLU", (("inplace", True),) if inplace else ())


def _upsample(node: Node, ctx: EmitContext) -> Emission:
    a = node.attrs
    args = [("scale_factor", _pair(a["scale"])), ("mode", a["mode"])]
    if a["mode"] == "bilinear":
        args.append(("align_corners", False))
    return Emission("nn.Upsample", tuple(args))


def _simple(callee: str, *attrs: tuple[str | None, str]):
    def emit(node: Node, ctx: EmitContext) -> Emission:
        return Emission(callee, tuple((kw, node.attrs[key]) for kw, key in attrs))
    return emit


def _fc(node: Node, ctx: EmitContext) -> Emission:
    a = node.attrs
    args = [(None, a["in_features"]), (None, a["features"])]
    if not a["bias"]:
        args.append(("bias", False))
    return Emission("nn.Linear", tuple(args))


# Channels last around a layer that acts on each pixel's channels, and back
# (torchvision's LayerNorm2d, and CNBlock's Permute modules)
CHANNELS_LAST = "{self}({0}.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)"


def _pointwise(node: Node, ctx: EmitContext) -> Emission:
    """A 1x1 convolution as nn.Linear on channels-last maps (torchvision's CNBlock)."""
    a = node.attrs
    args = [(None, a["in_channels"]), (None, a["channels"])]
    if not a["bias"]:
        args.append(("bias", False))
    return Emission("nn.Linear", tuple(args), CHANNELS_LAST)


def _crop_slice(a) -> str:
    (h, w), top, left = a["size"], a["top"], a["left"]
    return f"{{0}}[:, :, {top}:{top + h}, {left}:{left + w}]"


def _gelu(node: Node, ctx: EmitContext) -> Emission:
    tanh = node.attrs["approximate"] == "tanh"
    return Emission("nn.GELU", (("approximate", "tanh"),) if tanh else ())


def _elu(node: Node, ctx: EmitContext) -> Emission:
    alpha = node.attrs["alpha"]
    return Emission("nn.ELU", (("alpha", alpha),) if alpha != 1.0 else ())


def _prelu(node: Node, ctx: EmitContext) -> Emission:
    a = node.attrs
    args = [] if a["shared"] else [(None, node.shape[0])]
    if a["init"] != 0.25:
        args.append(("init", a["init"]))
    return Emission("nn.PReLU", tuple(args))


def _norm_options(a, eps_default: float = 1e-5, affine_kw: str = "affine",
                  affine_default: bool = True) -> list:
    options = [("eps", a["eps"])] if a["eps"] != eps_default else []
    if a["affine"] != affine_default:
        options.append((affine_kw, a["affine"]))
    return options


def _layernorm(node: Node, ctx: EmitContext) -> Emission:
    """Over the channels of each pixel: channels last, normalise, back (torchvision's
    LayerNorm2d, ConvNeXt); over the features of a flat vector as it is."""
    args = ((None, node.shape[0]), *_norm_options(node.attrs, affine_kw="elementwise_affine"))
    if len(node.shape) == 1:
        return Emission("nn.LayerNorm", args)
    return Emission("nn.LayerNorm", args, CHANNELS_LAST)


def _groupnorm(node: Node, ctx: EmitContext) -> Emission:
    return Emission("nn.GroupNorm", ((None, node.attrs["groups"]), (None, node.shape[0]),
                                     *_norm_options(node.attrs)))


def _instancenorm(node: Node, ctx: EmitContext) -> Emission:
    return Emission("nn.InstanceNorm2d", ((None, node.shape[0]),
                                          *_norm_options(node.attrs, affine_default=False)))


def _layer_scale(node: Node, ctx: EmitContext) -> Emission:
    """A parameter of the enclosing module, as torchvision's `CNBlock.layer_scale`: its
    state_dict key is the layer's name (`features.1.0.layer_scale`), with no `.weight`."""
    shape = "({0}, 1, 1)" if len(node.shape) == 3 else "({0},)"
    return Emission("nn.Parameter", ((None, node.shape[0]), (None, float(node.attrs["init"]))),
                    "{0} * {self}", init=f"nn.Parameter(torch.full({shape}, {{1}}))")


def _scale(node: Node, ctx: EmitContext) -> Emission:
    return Emission(None, (), "{0} * " + names.literal(node.attrs["factor"]))


def _drop_path(node: Node, ctx: EmitContext) -> Emission:
    return Emission("StochasticDepth", ((None, node.attrs["p"]), (None, node.attrs["mode"])))


# An add or mul of more inputs than this is one flat call, `sum([x2, ...], x)`:
# Python's compiler recurses once per operator of `x + x2 + ...` and fails near
# 3,000 terms.  Both forms add (multiply) left to right, so the results are equal.
CHAINED_MERGE_MAX = 16


def _chain(n: int, operator: str, flat: str) -> str:
    if n <= CHAINED_MERGE_MAX:
        return f" {operator} ".join(f"{{{i}}}" for i in range(n))
    return flat.format(rest=", ".join(f"{{{i}}}" for i in range(1, n)))


def _inline(template):
    def emit(node: Node, ctx: EmitContext) -> Emission:
        return Emission(None, (), template(len(node.inputs)))
    return emit


EMITTERS: dict[str, Callable[[Node, EmitContext], Emission]] = {
    "conv": _conv,
    "deconv": _deconv,
    "maxpool": _pool("maxpool"),
    "avgpool": _pool("avgpool"),
    "adaptive_avgpool": _adaptive("AdaptiveAvgPool2d"),
    "adaptive_maxpool": _adaptive("AdaptiveMaxPool2d"),
    "bn": _bn,
    "lrn": _lrn,
    "upsample": _upsample,
    "relu": _relu,
    "relu6": _simple("nn.ReLU6"),
    "leaky_relu": _simple("nn.LeakyReLU", (None, "slope")),
    "sigmoid": _simple("nn.Sigmoid"),
    "tanh": _simple("nn.Tanh"),
    "softmax": lambda node, ctx: Emission("nn.Softmax", (("dim", 1),)),
    "dropout": _simple("nn.Dropout", ("p", "p")),
    "hardswish": _simple("nn.Hardswish"),
    "hardsigmoid": _simple("nn.Hardsigmoid"),
    "silu": _simple("nn.SiLU"),
    "gelu": _gelu,
    "elu": _elu,
    "mish": _simple("nn.Mish"),
    "prelu": _prelu,
    "layernorm": _layernorm,
    "groupnorm": _groupnorm,
    "instancenorm": _instancenorm,
    "layer_scale": _layer_scale,
    "scale": _scale,
    "drop_path": _drop_path,
    # a module, not an inline x[:, a:b], so that calls slicing at different channels
    # (ShuffleNet's stages, DPN's growing dense path) share one block class
    "slice": _simple("ChannelSlice", (None, "start"), (None, "end")),
    "channel_shuffle": _simple("nn.ChannelShuffle", (None, "groups")),
    "flatten": _inline(lambda n: "torch.flatten({0}, 1)"),
    "crop": lambda node, ctx: Emission(None, (), _crop_slice(node.attrs)),
    # a module, not an inline F.pad: its zero counts are constructor arguments, so calls
    # that pad differently (each stage of a CIFAR ResNet's option A) share one class
    "pad_channels": _simple("ChannelPad", (None, "before"), (None, "after")),
    "fc": _fc,
    "pointwise": _pointwise,
    "add": _inline(lambda n: _chain(n, "+", "sum([{rest}], {{0}})")),
    # a Cx1x1 gate broadcasts
    "mul": _inline(lambda n: _chain(n, "*", "math.prod([{rest}], start={{0}})")),
    "concat": _inline(lambda n: "torch.cat([" + ", ".join(f"{{{i}}}" for i in range(n))
                      + "], 1)"),
}


def emit(node: Node, ctx: EmitContext) -> Emission:
    """The emission for `node`; SpecError naming the op when the table has no row."""
    row = EMITTERS.get(node.op)
    if row is None:
        raise SpecError(f"the PyTorch back end has no emitter for op {node.op!r} "
                        f"(layer {node.name})", node.span,
                        "add a row for it to cnndsl/backends/torch/emitters.py")
    emission = row(node, ctx)
    if node.attr("inplace") and not any(kw == "inplace" for kw, _ in emission.args):
        # set by the inference build (cnndsl.ir.inference) where nothing reads the input again
        emission = replace(emission, args=(*emission.args, ("inplace", True)))
    return emission
