"""One ONNX emitter per IR op, keyed by the op's name (cnndsl.ops.OPS).

An emitter reads one IR node and appends ONNX nodes and initializers to the
Emission.  Adding a layer type to cnndsl means adding one row here.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from cnndsl.backends.onnx.context import INPUT_NAME, Emission
from cnndsl.ir.inference import fold
from cnndsl.errors import SpecError
from cnndsl.ir.graph import Node, format_shape

Emitter = Callable[[Emission, Node], None]
EMITTERS: dict[str, Emitter] = {}


def emitter(*ops: str):
    def register(fn: Emitter) -> Emitter:
        for op in ops:
            if op in EMITTERS:
                raise ValueError(f"ONNX emitter for {op!r} is registered twice")
            EMITTERS[op] = fn
        return fn
    return register


@emitter("input")
def _input(ctx: Emission, node: Node) -> None:
    ctx.values[node.id] = INPUT_NAME


# -- layers with weights ----------------------------------------------------------

def _weights(ctx: Emission, node: Node) -> tuple[str, list[str], str | None]:
    """(output value, [weight, bias] initializer names, doc) with any batch
    norm folded in; the folded layer writes the batch norm's value."""
    weight = ctx.params.get(node, "weight")
    bias = ctx.params.get(node, "bias") if node.attrs["bias"] else None
    output, doc = ctx.value_name(node), None
    bn_id = ctx.fold.get(node.id)
    if bn_id is not None:
        bn = ctx.graph.nodes[bn_id]
        get = lambda suffix: ctx.params.get(bn, suffix)  # noqa: E731
        affine = bn.attrs["affine"]
        folded = fold(weight, bias, get("running_mean"), get("running_var"),
                      get("weight") if affine else None, get("bias") if affine else None,
                      bn.attrs["eps"])
        weight, bias = (value.astype(np.float32) for value in folded)  # rounded once, at the end
        output, doc = ctx.value_name(bn), f"batch norm {bn.name} folded in"
    names = [ctx.tensor(f"{node.name}.weight", weight)]
    if bias is not None:
        names.append(ctx.tensor(f"{node.name}.bias", bias))
    return output, names, doc


@emitter("conv")
def _conv(ctx: Emission, node: Node) -> None:
    a = node.attrs
    output, tensors, doc = _weights(ctx, node)
    ctx.op("Conv", [ctx.input(node), *tensors], node, output=output, doc_string=doc,
           kernel_shape=list(a["kernel"]), strides=list(a["stride"]), pads=list(a["pad"]),
           dilations=list(a["dilation"]), group=a["groups"])
    _alias_folded(ctx, node)


@emitter("deconv")
def _deconv(ctx: Emission, node: Node) -> None:
    """ConvTranspose: weights are in_channels x out_channels/groups x kh x kw, as in
    PyTorch; pads trim each border, output_padding adds at the bottom/right."""
    a = node.attrs
    output, tensors, doc = _weights(ctx, node)  # batch norm is never folded into it
    (ph, pw), (oh, ow) = a["pad"], a["output_pad"]
    ctx.op("ConvTranspose", [ctx.input(node), *tensors], node, output=output, doc_string=doc,
           kernel_shape=list(a["kernel"]), strides=list(a["stride"]), pads=[ph, pw, ph, pw],
           output_padding=[oh, ow] if oh or ow else None, group=a["groups"])


@emitter("pointwise")
def _pointwise(ctx: Emission, node: Node) -> None:
    """A 1x1 Conv: the nn.Linear weight (out x in) as out x in x 1 x 1, the same
    numbers, with no transposes around it."""
    weight = ctx.params.get(node, "weight")
    tensors = [ctx.tensor(f"{node.name}.weight", weight.reshape(*weight.shape, 1, 1))]
    if node.attrs["bias"]:
        tensors.append(ctx.tensor(f"{node.name}.bias", ctx.params.get(node, "bias")))
    ctx.op("Conv", [ctx.input(node), *tensors], node, kernel_shape=[1, 1])


@emitter("fc")
def _fc(ctx: Emission, node: Node) -> None:
    output, tensors, doc = _weights(ctx, node)
    ctx.op("Gemm", [ctx.input(node), *tensors], node, output=output, doc_string=doc, transB=1)
    _alias_folded(ctx, node)


def _alias_folded(ctx: Emission, node: Node) -> None:
    if node.id in ctx.fold:
        ctx.values[ctx.fold[node.id]] = ctx.values[node.id]


@emitter("bn")
def _bn(ctx: Emission, node: Node) -> None:
    if node.id in ctx.fold.values():
        return  # folded into its producer, which already wrote this node's value
    c = node.shape[0]
    if node.attrs["affine"]:
        scale = ctx.tensor(f"{node.name}.weight", ctx.params.get(node, "weight"))
        shift = ctx.tensor(f"{node.name}.bias", ctx.params.get(node, "bias"))
    else:
        scale, shift = ctx.constant(np.ones(c)), ctx.constant(np.zeros(c))
    mean = ctx.tensor(f"{node.name}.running_mean", ctx.params.get(node, "running_mean"))
    var = ctx.tensor(f"{node.name}.running_var", ctx.params.get(node, "running_var"))
    # works on N x C x H x W and on flat N x C alike
    ctx.op("BatchNormalization", [ctx.input(node), scale, shift, mean, var], node,
           epsilon=node.attrs["eps"])


# -- pooling ----------------------------------------------------------------------

def _pool(op_type: str, global_type: str) -> Emitter:
    def emit(ctx: Emission, node: Node) -> None:
        a = node.attrs
        if a["kernel"] == "global":
            ctx.op(global_type, [ctx.input(node)], node)
            return
        pads, ceil = list(a["pad"]), a["ceil"]
        counts_pad = op_type == "AveragePool" and a["count_pad"]
        if ceil and counts_pad:
            _average_padded_then_ceil(ctx, node)
            return
        explicit = _ceil_as_padding(ctx, node) if ceil else None
        if explicit:
            pads, ceil = explicit, False
        padded = any(pads) or ceil
        # ONNX's count_include_pad defaults to 0, PyTorch's to True: always say which
        count = int(a["count_pad"]) if op_type == "AveragePool" and padded else None
        ctx.op(op_type, [ctx.input(node)], node, kernel_shape=list(a["kernel"]),
               strides=list(a["stride"]), pads=pads if any(pads) else None,
               ceil_mode=1 if ceil else None, count_include_pad=count)
    return emit


def _average_padded_then_ceil(ctx: Emission, node: Node) -> None:
    """PyTorch's average in ceil mode counting padding: its divisor counts the
    declared padding but not the cells a ceil-mode window hangs past it.  That is
    exactly a zero Pad of the declared padding, then an average over the padded
    map with extra end padding that is not counted (count_include_pad=0)."""
    a = node.attrs
    top, left, bottom, right = a["pad"]
    x = ctx.input(node)
    if any(a["pad"]):
        x = ctx.op("Pad", [x, ctx.constant([0, 0, top, left, 0, 0, bottom, right], np.int64)],
                   node, suffix="pad", mode="constant")
    h, w = ctx.graph.nodes[node.inputs[0]].shape[1:]
    padded = (h + top + bottom, w + left + right)
    extra = [max(0, (out - 1) * s + k - n) for out, s, k, n
             in zip(node.shape[1:], a["stride"], a["kernel"], padded)]
    ctx.op("AveragePool", [x], node, kernel_shape=list(a["kernel"]), strides=list(a["stride"]),
           pads=[0, 0, *extra] if any(extra) else None, count_include_pad=0)


def _ceil_as_padding(ctx: Emission, node: Node) -> list[int] | None:
    """Ceil mode as floor mode with the end padding that yields the same output.

    PyTorch drops a last window that would start in the right padding; the ONNX
    spec says the same, but onnx's shape inference (1.23) does not apply that rule
    and would disagree with the runtime.  Where the rule matters, extra end
    padding says the same thing unambiguously: it changes no max, nor an average
    that ignores padding.  None when plain ceil mode is unambiguous."""
    a = node.attrs
    size = ctx.graph.nodes[node.inputs[0]].shape[1:]
    pads = list(a["pad"])
    naive = [-(-(n + pads[i] + pads[i + 2] - k) // s) + 1
             for i, (n, k, s) in enumerate(zip(size, a["kernel"], a["stride"]))]
    if naive == list(node.shape[1:]):
        return None
    for i, (n, k, s, out) in enumerate(zip(size, a["kernel"], a["stride"], node.shape[1:])):
        pads[i + 2] = (out - 1) * s + k - n - pads[i]
        if pads[i + 2] < 0:
            return None
    return pads


EMITTERS["maxpool"] = _pool("MaxPool", "GlobalMaxPool")
EMITTERS["avgpool"] = _pool("AveragePool", "GlobalAveragePool")


def _adaptive(op_type: str, global_type: str) -> Emitter:
    """Adaptive pooling: to 1x1 it is global pooling; when the output size divides
    the input size it is a fixed pool with kernel = stride = input // output; when
    the input divides the output every window holds one element, so it is
    nearest-neighbour upsampling (torchvision's classifiers at small inputs: 1x1 ->
    7x7); windows of different sizes are averaged by two MatMuls (max pooling then
    cannot be expressed)."""
    def emit(ctx: Emission, node: Node) -> None:
        _, h, w = ctx.graph.nodes[node.inputs[0]].shape
        oh, ow = node.attrs["size"]
        x = ctx.input(node)
        if (oh, ow) == (h, w):
            ctx.alias(node, node.inputs[0])  # every window is one element: the identity
        elif (oh, ow) == (1, 1):
            ctx.op(global_type, [x], node)
        elif h % oh == 0 and w % ow == 0:
            k = [h // oh, w // ow]
            ctx.op(op_type, [x], node, kernel_shape=k, strides=k)
        elif oh % h == 0 and ow % w == 0:
            if (h, w) == (1, 1):
                ctx.op("Expand", [x, ctx.constant([1, 1, oh, ow], np.int64)], node)
            else:
                _resize(ctx, node, (oh // h, ow // w), "nearest")
        elif op_type == "AveragePool":
            _adaptive_average(ctx, node, (h, w), (oh, ow))
        else:
            raise SpecError(
                f"ONNX export: {node.name} pools a {format_shape((h, w))} map adaptively to "
                f"{format_shape((oh, ow))}; its windows differ in size, which ONNX pooling "
                "cannot express", node.span,
                hint=f"use an input size that makes this map a multiple of "
                     f"{format_shape((oh, ow))} (or a divisor of it), or a fixed pooling layer")
    return emit


def _resize(ctx: Emission, node: Node, scale: tuple[int, int], mode: str) -> None:
    """Upsampling by integer factors, as PyTorch computes it: nearest copies
    input pixel floor(i / scale); bilinear (align_corners=False) samples at
    (i + 0.5) / scale - 0.5, ONNX's half_pixel."""
    scales = ctx.constant([1.0, 1.0, *map(float, scale)])
    if mode == "nearest":
        ctx.op("Resize", [ctx.input(node), "", scales], node, mode="nearest",
               coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    else:
        ctx.op("Resize", [ctx.input(node), "", scales], node, mode="linear",
               coordinate_transformation_mode="half_pixel")


@emitter("upsample")
def _upsample(ctx: Emission, node: Node) -> None:
    _resize(ctx, node, node.attrs["scale"], node.attrs["mode"])


def _adaptive_average(ctx: Emission, node: Node, size: tuple[int, int],
                      out: tuple[int, int]) -> None:
    """Adaptive average pooling with windows of different sizes (torchvision's GoogLeNet
    heads pool 14x14 to 4x4): it is linear and separable, rows then columns, so it is
    two MatMuls with averaging matrices, A_h @ X @ A_w^T, each row of A averaging one
    of PyTorch's windows (start floor(i*n/o), end ceil((i+1)*n/o))."""
    def averaging(n: int, o: int) -> np.ndarray:
        matrix = np.zeros((o, n), np.float32)
        for i in range(o):
            start, end = (i * n) // o, -((-(i + 1) * n) // o)
            matrix[i, start:end] = 1.0 / (end - start)
        return matrix

    (h, w), (oh, ow) = size, out
    columns = ctx.tensor(f"{node.name}.columns", averaging(w, ow).T.copy())  # w x ow
    rows = ctx.tensor(f"{node.name}.rows", averaging(h, oh))  # oh x h
    across = ctx.op("MatMul", [ctx.input(node), columns], node, suffix="columns")
    ctx.op("MatMul", [rows, across], node)


EMITTERS["adaptive_avgpool"] = _adaptive("AveragePool", "GlobalAveragePool")
EMITTERS["adaptive_maxpool"] = _adaptive("MaxPool", "GlobalMaxPool")


# -- normalisation and pointwise ops ------------------------------------------------

@emitter("lrn")
def _lrn(ctx: Emission, node: Node) -> None:
    a = node.attrs
    size, x = a["size"], ctx.input(node)
    if size % 2:
        ctx.op("LRN", [x], node, size=size, alpha=a["alpha"], beta=a["beta"], bias=a["k"])
        return
    # For even sizes ONNX's LRN centres its window one channel later than PyTorch's
    # ([c - size//2 + 1, c + size//2] against [c - size//2, c + size//2 - 1]), so
    # spell PyTorch's out: x / (k + alpha/size * sum of squares over the window)^beta,
    # the windowed sum being a 1x1 convolution with a band of ones.
    c = node.shape[0]
    band = np.zeros((c, c, 1, 1))
    for out in range(c):
        band[out, max(0, out - size // 2):out + (size - 1) // 2 + 1] = a["alpha"] / size
    squares = ctx.op("Mul", [x, x], node, suffix="square")
    window = ctx.tensor(f"{node.name}.window", band)
    denom = ctx.op("Conv", [squares, window, ctx.constant(np.full(c, a["k"]))], node,
                   suffix="sum", kernel_shape=[1, 1])
    power = ctx.op("Pow", [denom, ctx.constant(a["beta"])], node, suffix="pow")
    ctx.op("Div", [x, power], node)


def _pointwise(op_type: str, **attrs) -> Emitter:
    return lambda ctx, node: ctx.op(op_type, [ctx.input(node)], node, **attrs)


EMITTERS.update({
    "relu": _pointwise("Relu"),
    "sigmoid": _pointwise("Sigmoid"),
    "tanh": _pointwise("Tanh"),
    "softmax": _pointwise("Softmax", axis=1),
    "flatten": _pointwise("Flatten", axis=1),
})


@emitter("relu6")
def _relu6(ctx: Emission, node: Node) -> None:
    ctx.op("Clip", [ctx.input(node), ctx.constant(0.0), ctx.constant(6.0)], node)


@emitter("leaky_relu")
def _leaky_relu(ctx: Emission, node: Node) -> None:
    ctx.op("LeakyRelu", [ctx.input(node)], node, alpha=node.attrs["slope"])


@emitter("dropout", "drop_path")
def _dropout(ctx: Emission, node: Node) -> None:
    ctx.alias(node, node.inputs[0])  # the identity at inference: nothing to compute


# HardSigmoid is max(0, min(1, alpha * x + beta)); PyTorch's is relu6(x + 3) / 6
_HARD = {"alpha": 1.0 / 6.0, "beta": 0.5}


@emitter("hardsigmoid")
def _hardsigmoid(ctx: Emission, node: Node) -> None:
    ctx.op("HardSigmoid", [ctx.input(node)], node, **_HARD)


@emitter("hardswish")
def _hardswish(ctx: Emission, node: Node) -> None:
    if ctx.opset >= 14:
        ctx.op("HardSwish", [ctx.input(node)], node)
        return
    x = ctx.input(node)
    gate = ctx.op("HardSigmoid", [x], node, suffix="gate", **_HARD)
    ctx.op("Mul", [x, gate], node)


@emitter("silu")
def _silu(ctx: Emission, node: Node) -> None:
    x = ctx.input(node)
    ctx.op("Mul", [x, ctx.op("Sigmoid", [x], node, suffix="sigmoid")], node)


@emitter("gelu")
def _gelu(ctx: Emission, node: Node) -> None:
    """Gelu from opset 20; before, its formula: x * (1 + erf(x / sqrt 2)) / 2, or the tanh
    approximation x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))) / 2."""
    x, tanh = ctx.input(node), node.attrs["approximate"] == "tanh"
    if ctx.opset >= 20:
        ctx.op("Gelu", [x], node, approximate="tanh" if tanh else "none")
        return
    if tanh:
        cube = ctx.op("Mul", [ctx.op("Mul", [x, x], node, suffix="square"), x], node, suffix="cube")
        inner = ctx.op("Add", [x, ctx.op("Mul", [cube, ctx.constant(0.044715)], node,
                                         suffix="cubic")], node, suffix="inner")
        scaled = ctx.op("Mul", [inner, ctx.constant(math.sqrt(2.0 / math.pi))], node,
                        suffix="scaled")
        phi = ctx.op("Tanh", [scaled], node, suffix="tanh")
    else:
        phi = ctx.op("Erf", [ctx.op("Div", [x, ctx.constant(math.sqrt(2.0))], node,
                                    suffix="scaled")], node, suffix="erf")
    half = ctx.op("Mul", [x, ctx.constant(0.5)], node, suffix="half")
    ctx.op("Mul", [half, ctx.op("Add", [phi, ctx.constant(1.0)], node, suffix="one_plus")], node)


@emitter("elu")
def _elu(ctx: Emission, node: Node) -> None:
    ctx.op("Elu", [ctx.input(node)], node, alpha=node.attrs["alpha"])


@emitter("mish")
def _mish(ctx: Emission, node: Node) -> None:
    x = ctx.input(node)
    if ctx.opset >= 18:
        ctx.op("Mish", [x], node)
        return
    softplus = ctx.op("Softplus", [x], node, suffix="softplus")
    ctx.op("Mul", [x, ctx.op("Tanh", [softplus], node, suffix="tanh")], node)


def _per_channel(node: Node, array: np.ndarray) -> np.ndarray:
    """A per-channel vector shaped to broadcast over N x C x H x W (or N x C)."""
    return array.reshape(-1, 1, 1) if len(node.shape) == 3 else array.reshape(-1)


@emitter("prelu")
def _prelu(ctx: Emission, node: Node) -> None:
    slope = ctx.params.get(node, "weight")
    shaped = slope.reshape(-1) if node.attrs["shared"] else _per_channel(node, slope)
    ctx.op("PRelu", [ctx.input(node), ctx.tensor(f"{node.name}.weight", shaped)], node)


@emitter("layer_scale")
def _layer_scale(ctx: Emission, node: Node) -> None:
    # the initializer is the state_dict key, the node's own name (a parameter in PyTorch,
    # torchvision's `features.1.0.layer_scale`), so the product's value takes another
    scale = ctx.tensor(node.name, _per_channel(node, ctx.params.get(node, "")))
    output = ctx.output_names.get(node.id, f"{node.name}/scaled")
    ctx.op("Mul", [ctx.input(node), scale], node, output=output)


@emitter("scale")
def _scale(ctx: Emission, node: Node) -> None:
    ctx.op("Mul", [ctx.input(node), ctx.constant(node.attrs["factor"])], node)


def _affine(ctx: Emission, node: Node) -> tuple[str, str]:
    """The scale and shift of a normalisation: its weights, or ones and zeros."""
    if node.attrs["affine"]:
        return (ctx.tensor(f"{node.name}.weight", ctx.params.get(node, "weight")),
                ctx.tensor(f"{node.name}.bias", ctx.params.get(node, "bias")))
    c = node.shape[0]
    return ctx.constant(np.ones(c)), ctx.constant(np.zeros(c))


@emitter("layernorm")
def _layernorm(ctx: Emission, node: Node) -> None:
    """Over channels: LayerNormalization (opset 17) on the last axis, with the channels moved
    last for a feature map; before opset 17, the mean and variance spelt out."""
    x, (scale, shift) = ctx.input(node), _affine(ctx, node)
    spatial, eps = len(node.shape) == 3, node.attrs["eps"]
    if spatial:
        x = ctx.op("Transpose", [x], node, suffix="channels_last", perm=[0, 2, 3, 1])
    name = "normalised" if spatial else ""
    if ctx.opset >= 17:
        y = ctx.op("LayerNormalization", [x, scale, shift], node, suffix=name, axis=-1,
                   epsilon=eps)
    else:
        mean = ctx.op("ReduceMean", [x], node, suffix="mean", axes=[-1])
        centred = ctx.op("Sub", [x, mean], node, suffix="centred")
        var = ctx.op("ReduceMean", [ctx.op("Mul", [centred, centred], node, suffix="square")],
                     node, suffix="var", axes=[-1])
        std = ctx.op("Sqrt", [ctx.op("Add", [var, ctx.constant(eps)], node, suffix="var_eps")],
                     node, suffix="std")
        scaled = ctx.op("Mul", [ctx.op("Div", [centred, std], node, suffix="standard"), scale],
                        node, suffix="scaled")
        y = ctx.op("Add", [scaled, shift], node, suffix=name)
    if spatial:
        ctx.op("Transpose", [y], node, perm=[0, 3, 1, 2])


@emitter("groupnorm")
def _groupnorm(ctx: Emission, node: Node) -> None:
    """Each group as one instance: N x G x (C/G * H * W), InstanceNormalization with unit
    scale, the original shape back, then the per-channel scale and shift."""
    groups = node.attrs["groups"]
    grouped = ctx.op("Reshape", [ctx.input(node), ctx.constant([0, groups, -1], np.int64)], node,
                     suffix="grouped")
    normal = ctx.op("InstanceNormalization", [grouped, ctx.constant(np.ones(groups)),
                                              ctx.constant(np.zeros(groups))], node,
                    suffix="normalised", epsilon=node.attrs["eps"])
    shaped = ctx.op("Reshape", [normal, ctx.constant([0, *node.shape], np.int64)], node,
                    suffix="" if not node.attrs["affine"] else "shaped")
    if node.attrs["affine"]:
        weight = _per_channel(node, ctx.params.get(node, "weight"))
        bias = _per_channel(node, ctx.params.get(node, "bias"))
        scaled = ctx.op("Mul", [shaped, ctx.tensor(f"{node.name}.weight", weight)], node,
                        suffix="scaled")
        ctx.op("Add", [scaled, ctx.tensor(f"{node.name}.bias", bias)], node)


@emitter("instancenorm")
def _instancenorm(ctx: Emission, node: Node) -> None:
    scale, shift = _affine(ctx, node)
    ctx.op("InstanceNormalization", [ctx.input(node), scale, shift], node,
           epsilon=node.attrs["eps"])


@emitter("slice")
def _slice(ctx: Emission, node: Node) -> None:
    a = node.attrs
    ctx.op("Slice", [ctx.input(node), ctx.constant([a["start"]], np.int64),
                     ctx.constant([a["end"]], np.int64), ctx.constant([1], np.int64)], node)


@emitter("channel_shuffle")
def _channel_shuffle(ctx: Emission, node: Node) -> None:
    """N x C x H x W viewed as N x g x C/g x H x W, the two group axes swapped, flattened
    back (ShuffleNet's channel shuffle; PyTorch's nn.ChannelShuffle)."""
    g, (c, h, w) = node.attrs["groups"], node.shape
    split = ctx.op("Reshape", [ctx.input(node), ctx.constant([0, g, c // g, h, w], np.int64)],
                   node, suffix="groups")
    swapped = ctx.op("Transpose", [split], node, suffix="swapped", perm=[0, 2, 1, 3, 4])
    ctx.op("Reshape", [swapped, ctx.constant([0, c, h, w], np.int64)], node)


# -- merges -----------------------------------------------------------------------

@emitter("add")
def _add(ctx: Emission, node: Node) -> None:
    inputs = [ctx.values[i] for i in node.inputs]
    ctx.op("Add" if len(inputs) == 2 else "Sum", inputs, node)


@emitter("crop")
def _crop(ctx: Emission, node: Node) -> None:
    a = node.attrs
    (h, w), top, left = a["size"], a["top"], a["left"]
    ctx.op("Slice", [ctx.input(node), ctx.constant([top, left], np.int64),
                     ctx.constant([top + h, left + w], np.int64),
                     ctx.constant([2, 3], np.int64)], node)


@emitter("pad_channels")
def _pad_channels(ctx: Emission, node: Node) -> None:
    """Zero channels: ONNX Pad takes every axis's begin pads, then every axis's end pads."""
    a = node.attrs
    rest = [0] * (len(node.shape) - 1)
    pads = [0, a["before"], *rest, 0, a["after"], *rest]
    ctx.op("Pad", [ctx.input(node), ctx.constant(pads, np.int64)], node, mode="constant")


@emitter("mul")
def _mul(ctx: Emission, node: Node) -> None:
    """Mul broadcasts (numpy rules), so an N x C x 1 x 1 gate scales N x C x H x W."""
    first, *rest = [ctx.values[i] for i in node.inputs]
    for k, other in enumerate(rest):
        last = k == len(rest) - 1
        first = ctx.op("Mul", [first, other], node, suffix="" if last else f"mul{k + 1}")


@emitter("concat")
def _concat(ctx: Emission, node: Node) -> None:
    ctx.op("Concat", [ctx.values[i] for i in node.inputs], node, axis=1)
