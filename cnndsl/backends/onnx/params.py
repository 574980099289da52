"""Where the exported weights come from: a state dict (a trained checkpoint or
a live module's ``state_dict()``) or a fresh, deterministic initialisation.

Names follow docs/ir.md: node ``basic3.conv1`` owns ``basic3.conv1.weight``
and ``.bias``; a ``bn`` node owns ``weight``, ``bias`` (when affine),
``running_mean``, ``running_var`` and ``num_batches_tracked`` (ignored here); a
``layer_scale`` node is its one tensor, named as the node (suffix ``""``: the
PyTorch back end's parameter ``features.1.0.layer_scale``, as torchvision's).
"""

from __future__ import annotations

import zlib
from math import sqrt
from typing import Mapping

import numpy as np

from cnndsl.ir.graph import Graph, Node
from cnndsl.state_dicts import WeightsError, strip_parallel_prefix


def expected_params(node: Node) -> dict[str, tuple[int, ...]]:
    """The tensors node `node` owns, by suffix, with their shapes."""
    a = node.attrs
    if node.op == "conv":
        kh, kw = a["kernel"]
        shapes = {"weight": (a["channels"], a["in_channels"] // a["groups"], kh, kw)}
        return {**shapes, "bias": (a["channels"],)} if a["bias"] else shapes
    if node.op == "deconv":  # PyTorch's ConvTranspose2d layout: in x out/groups x kh x kw
        kh, kw = a["kernel"]
        shapes = {"weight": (a["in_channels"], a["channels"] // a["groups"], kh, kw)}
        return {**shapes, "bias": (a["channels"],)} if a["bias"] else shapes
    if node.op == "pointwise":  # nn.Linear's out x in, not a 1x1 convolution's 4-D weight
        shapes = {"weight": (a["channels"], a["in_channels"])}
        return {**shapes, "bias": (a["channels"],)} if a["bias"] else shapes
    if node.op == "fc":
        shapes = {"weight": (a["features"], a["in_features"])}
        return {**shapes, "bias": (a["features"],)} if a["bias"] else shapes
    if node.op == "bn":
        c = (node.shape[0],)
        stats = {"running_mean": c, "running_var": c}
        return {"weight": c, "bias": c, **stats} if a["affine"] else stats
    if node.op in ("layernorm", "groupnorm", "instancenorm"):
        c = (node.shape[0],)
        return {"weight": c, "bias": c} if a["affine"] else {}
    if node.op == "prelu":  # nn.PReLU's weight: one slope, or one per channel
        return {"weight": (1,) if a["shared"] else (node.shape[0],)}
    if node.op == "layer_scale":  # a parameter, not a module's: C x 1 x 1 on feature maps
        return {"": (node.shape[0], 1, 1) if len(node.shape) == 3 else (node.shape[0],)}
    return {}


def param_key(node: Node, suffix: str) -> str:
    """The state_dict key of a node's tensor: `conv1.weight`; a layer scale's own name."""
    return f"{node.name}.{suffix}" if suffix else node.name


# Parameters that PyTorch initialises to a constant: (op, suffix) -> value (None: the
# op's `init` attribute, prelu's and layer_scale's).
CONSTANT_INIT = {("bn", "weight"): 1.0, ("bn", "bias"): 0.0, ("bn", "running_mean"): 0.0,
                 ("bn", "running_var"): 1.0, ("prelu", "weight"): None,
                 ("layer_scale", ""): None,
                 **{(op, "weight"): 1.0 for op in ("layernorm", "groupnorm", "instancenorm")},
                 **{(op, "bias"): 0.0 for op in ("layernorm", "groupnorm", "instancenorm")}}


class ParamSource:
    """Hands out each parameter as a float32 numpy array."""

    def __init__(self, graph: Graph, state_dict: Mapping[str, object] | None = None,
                 by_order: bool = False):
        self.graph = graph
        self.arrays = None if state_dict is None else _check(graph, _to_numpy(state_dict),
                                                             by_order)

    def get(self, node: Node, suffix: str) -> np.ndarray:
        shape = expected_params(node)[suffix]
        key = param_key(node, suffix)
        if self.arrays is not None:
            return self.arrays[key]
        return _fresh(node, suffix, shape, key)


def _fresh(node: Node, suffix: str, shape: tuple[int, ...], key: str) -> np.ndarray:
    """PyTorch's default initialisation (kaiming_uniform with a=sqrt(5) for conv
    and fc weights, which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the same bound
    for biases; batch norm and the other normalisations start as the identity, PReLU and
    layer scale at their `init`).  Seeded by the tensor's
    name, so an export is reproducible and editing one layer leaves the others'
    initial weights alone."""
    if (node.op, suffix) in CONSTANT_INIT:
        value = CONSTANT_INIT[node.op, suffix]
        return np.full(shape, node.attrs["init"] if value is None else value, np.float32)
    weight_shape = expected_params(node)["weight"]
    fan_in = int(np.prod(weight_shape[1:]))
    bound = 1.0 / sqrt(fan_in)
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    # drawn in float32 directly: VGG's first fc layer alone has 103M weights
    return (rng.random(shape, dtype=np.float32) * np.float32(2 * bound)
            - np.float32(bound))


def _to_numpy(state_dict: Mapping[str, object]) -> dict[str, np.ndarray]:
    arrays = {}
    for key, value in state_dict.items():
        if hasattr(value, "detach"):  # a torch tensor; no need to import torch for that
            value = value.detach().cpu()
            if value.is_floating_point():  # bfloat16 has no numpy type; ONNX gets float32
                value = value.float()
            value = value.numpy()
        arrays[key] = np.asarray(value)
    return strip_parallel_prefix(arrays)


def _check(graph: Graph, arrays: dict[str, np.ndarray],
           by_order: bool = False) -> dict[str, np.ndarray]:
    expected = {param_key(node, suffix): shape
                for node in graph.nodes for suffix, shape in expected_params(node).items()}
    renamed = arrays
    if any(k not in arrays for k in expected):
        renamed = _by_declaration_order(expected, arrays)
        arrays = renamed if by_order else arrays
    missing = [k for k in expected if k not in arrays]
    unexpected = [k for k in arrays if k not in expected and not k.endswith(".num_batches_tracked")]
    wrong = [f"{k}: {_shape(arrays[k].shape)} in the weights, {_shape(s)} in the spec"
             for k, s in expected.items() if k in arrays and tuple(arrays[k].shape) != s]
    problems = []
    if missing:
        problems.append(f"missing {_few(missing)}")
    if unexpected:
        problems.append(f"unexpected {_few(unexpected)}")
    if wrong:
        problems.append(f"wrong shape for {_few(wrong)}")
    if problems:
        hint = ("the names differ, and declaration order pairs every tensor (weights named "
                "before the zoo's specs took torchvision's names, or by another "
                "implementation): pass by_order=True (--by-order) to pair by order"
                if renamed is not arrays else "export with the spec (and --input/--set "
                "values) the checkpoint was trained with")
        raise WeightsError(f"the weights do not fit network {graph.name}: " + "; ".join(problems),
                           hint=hint)
    return {k: arrays[k].astype(np.float32, copy=False) for k in expected}


def _by_declaration_order(expected: dict[str, tuple], arrays: dict[str, np.ndarray]) -> dict:
    """Weights named another way (torchvision's `layer2.0.conv1.weight` for our
    `basic4.conv1.weight`), renamed by declaration order as the PyTorch back end
    pairs them (cnndsl.backends.torch.weights.align); `arrays` unchanged unless
    every tensor pairs up."""
    from types import SimpleNamespace

    from cnndsl.backends.torch.weights import align  # difflib only; no torch import
    theirs = {k: v for k, v in arrays.items() if not k.endswith(".num_batches_tracked")}
    report = align({k: SimpleNamespace(shape=s) for k, s in expected.items()}, theirs)
    if not report.ok or len(report.loaded) != len(expected):
        return arrays
    # an nn.Linear's out x in weight where we hold a 1x1 convolution's (load_weights does too)
    return {ours: theirs[name].reshape(expected[ours]) for ours, name in report.loaded}


def _shape(shape) -> str:
    return "x".join(map(str, shape)) or "scalar"


def _few(items: list[str], limit: int = 5) -> str:
    more = len(items) - limit
    return ", ".join(items[:limit]) + (f" and {more} more" if more > 0 else "")
