"""The preprocessing an exported graph records, and optionally computes.

`cnndsl build --target onnx --weights best.pt` copies what training used
(input size and layout, pixel scale, per-channel mean and std, class names)
into the model's ``metadata_props`` (keys in cnndsl.inference.preprocessing),
with the sha256 of the weights file beside the spec's.  ``--with-preprocessing``
also puts it into the graph: the input is then raw pixel values (0..255 for
image files) and two nodes in front compute ``x * (scale / std) - mean / std``,
which is ``(x * scale - mean) / std``.  Resizing stays outside the graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from cnndsl.backends.onnx.context import INPUT_NAME
from cnndsl.errors import SpecError
from cnndsl.files import sha256_file
from cnndsl.inference.preprocessing import Preprocessing

NORMALISED = "normalised_input"


def from_weights(network, weights: str | None) -> Preprocessing | None:
    """The Preprocessing a cnndsl checkpoint records; None for other weights."""
    if not weights:
        return None
    from cnndsl.state_dicts import is_checkpoint, load_file
    data, _ = load_file(weights, "weights file", cached=True)
    if not is_checkpoint(data):
        return None
    shape = network.input_shape
    return Preprocessing.from_checkpoint(data, shape[0], tuple(shape[1:]))


def record(model: onnx.ModelProto, prep: Preprocessing | None, weights: str | None) -> None:
    """Add the preprocessing and the weights' digest to `model`'s metadata_props."""
    entries = dict(prep.to_metadata()) if prep is not None else {}
    if weights:
        entries["cnndsl.weights_sha256"] = sha256_file(Path(weights))
    existing = {p.key: p for p in model.metadata_props}
    for key, value in entries.items():
        if key in existing:
            existing[key].value = value
        else:
            model.metadata_props.add(key=key, value=value)


def bake(model: onnx.ModelProto, prep: Preprocessing | None, weights: str | None) -> None:
    """Make `model` take raw pixels: scale and normalise at the graph's input."""
    if prep is None:
        raise SpecError("--with-preprocessing needs the preprocessing training used: give "
                        "--weights a cnndsl checkpoint (best.pt)",
                        hint="a plain state dict records no pixel scale, mean or std")
    graph = model.graph
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == INPUT_NAME:
                node.input[i] = NORMALISED
    mean, std = (np.asarray(v, dtype=np.float64).reshape(1, -1, 1, 1) for v in prep.per_channel())
    factor = numpy_helper.from_array((prep.scale / std).astype(np.float32), "preprocess.factor")
    offset = numpy_helper.from_array((mean / std).astype(np.float32), "preprocess.offset")
    graph.initializer.extend([factor, offset])
    front = [helper.make_node("Mul", [INPUT_NAME, factor.name], ["preprocess.scaled"],
                              name="preprocess.scale"),
             helper.make_node("Sub", ["preprocess.scaled", offset.name], [NORMALISED],
                              name="preprocess.normalise")]
    nodes = front + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    prep.baked = True

