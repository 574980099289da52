"""The network to run: the torch module built from the spec and weights, or an
exported ONNX graph in ONNX Runtime; both take a float32 NCHW batch and return
logits, and both know the Preprocessing their input needs."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cnndsl.errors import SpecError
from cnndsl.inference.preprocessing import Preprocessing, parse_normalize, read_classes


@dataclass
class Runner:
    """logits = run(batch); `preprocessing` says how to make the batch."""

    run: Callable
    preprocessing: Preprocessing
    outputs: int
    kind: str


def torch_runner(spec: str, weights: str, options) -> Runner:
    """The spec's module with `weights`: a cnndsl checkpoint (its input size,
    parameters, preprocessing and class names) or a plain/torchvision state dict
    (paired by declaration order; --normalize and --classes say the rest)."""
    import torch

    from cnndsl.state_dicts import is_checkpoint, load_file
    data, note = load_file(weights, "weights file", cached=True)
    if note:
        print(note, file=sys.stderr)
    if is_checkpoint(data):
        net, model, saved = _from_checkpoint(spec, weights)
        prep = Preprocessing.from_checkpoint(saved, net.input_shape[0], tuple(net.input_shape[1:]))
    else:
        net, model = _from_state_dict(spec, weights, options)
        prep = Preprocessing(net.input_shape[0], tuple(net.input_shape[1:]))
    _apply_options(prep, options, net.output_shape[0])
    model.eval()

    def run(batch):
        with torch.no_grad():
            return model(torch.from_numpy(batch)).float().numpy()
    return Runner(run, prep, net.output_shape[0], "torch")


def _from_checkpoint(spec: str, weights: str):
    from cnndsl.train import checkpoint
    from cnndsl.train.evaluate import _rebuild, _refuse_non_finite
    saved = checkpoint.load(weights)
    net = _rebuild(spec, saved, weights)
    model = net.to_torch()
    checkpoint.check_fits(model.state_dict(), saved, weights, spec, use="predict with")
    _refuse_non_finite(saved["model"], weights)
    model.load_state_dict(saved["model"])
    return net, model, saved


def _from_state_dict(spec: str, weights: str, options):
    from cnndsl.backends.torch.weights import WeightMismatchError, load_weights
    from cnndsl.network import load
    from cnndsl.state_dicts import read_state_dict
    net = load(spec, input=options.input)
    model = net.to_torch()
    try:
        load_weights(model, read_state_dict(weights))
    except WeightMismatchError as exc:
        raise SpecError(f"{weights} does not fit {spec}: {exc}") from None
    return net, model


def onnx_runner(path: str, fallback: Runner | None, options) -> Runner:
    """An ONNX Runtime session for `path`, with the preprocessing its
    metadata_props record (cnndsl build writes them), else `fallback`'s."""
    import onnx

    from cnndsl.backends.onnx.runtime import session
    if not Path(path).is_file():
        raise SpecError(f"ONNX file {path} does not exist")
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and others for a foreign file
        raise SpecError(f"{path} is not an ONNX model: {exc}") from None
    props = {p.key: p.value for p in model.metadata_props}
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    outputs = model.graph.output[0].type.tensor_type.shape.dim[-1].dim_value
    prep = Preprocessing.from_metadata(props, path)
    if prep is None:
        if fallback is None:
            raise SpecError(f"{path} records no preprocessing (exported without a cnndsl "
                            f"checkpoint)", hint="give --normalize and --classes")
        prep = fallback.preprocessing
        print(f"cnndsl predict: note: {path} records no preprocessing; using the weights'",
              file=sys.stderr)
    if len(dims) == 4 and (dims[1], tuple(dims[2:])) != (prep.channels, prep.size):
        raise SpecError(f"{path} takes {dims[1]}x{dims[2]}x{dims[3]} input, its preprocessing "
                        f"says {prep.channels}x{prep.size[0]}x{prep.size[1]}")
    _apply_options(prep, options, outputs)
    runtime = session(path, device="cpu")

    def run(batch):
        return runtime.run(["output"], {"input": batch})[0]
    return Runner(run, prep, outputs, "onnx")


def _apply_options(prep: Preprocessing, options, outputs: int) -> None:
    """--normalize and --classes override what the weights record."""
    if options.normalize:
        if prep.baked:
            raise SpecError("--normalize cannot change an ONNX graph built --with-preprocessing: "
                            "its normalisation is part of the graph")
        prep.scale = 1.0 / 255.0
        prep.mean, prep.std = parse_normalize(options.normalize, prep.channels)
    if options.classes:
        prep.classes = read_classes(options.classes, outputs)
    if not prep.classes:
        prep.classes = [str(k) for k in range(outputs)]
    elif len(prep.classes) != outputs:
        raise SpecError(f"the weights name {len(prep.classes)} classes, the network has "
                        f"{outputs} outputs", hint="give --classes FILE")
