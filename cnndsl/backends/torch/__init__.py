"""The PyTorch back end: readable, standalone source generated from the IR.

    build_module(network) -> nn.Module     (what Network.to_torch() returns)
    build_file(network, output, options)   (what `cnndsl build --target torch` calls)
    generate_source(network) -> str        (the source both of them use)
    load_weights(module, state_dict)       (torchvision or any same-architecture weights)

`build_module` executes the generated source, so the module and the file
cannot disagree.  torch is imported lazily; importing this package is cheap.
"""

from __future__ import annotations

import hashlib
import linecache
import sys
import types
from pathlib import Path

from cnndsl.backends.torch.inference import build_inference_module, inference_network
from cnndsl.backends.torch.weights import WeightReport, load_weights
from cnndsl.escape import python_text
from cnndsl.files import Outputs, same_file, sha256_file
from cnndsl.state_dicts import WeightsError, read_state_dict

__all__ = ["WeightReport", "build_file", "build_module", "generate_source", "load_weights"]


def generate_source(network) -> str:
    """The generated Python source for `network` (a cnndsl.Network)."""
    return _source(network).text


def _source(network):
    from cnndsl import __version__
    from cnndsl.backends.torch.codegen import generate
    return generate(network, __version__)


def build_module(network, all_outputs: bool = False):
    """An nn.Module computing `network`, built by executing its generated source.

    A network with output heads returns every output (a named tuple, the main one
    first) in training and only the main one in eval mode; all_outputs=True returns
    them all in eval mode too (the module's `all_outputs` attribute, settable later).

    The source runs as a module registered in sys.modules under a name derived
    from its text, so the classes pickle (torch.save(model), multiprocessing,
    deepcopy) within this process; across processes, save the state_dict or the
    file `cnndsl build` writes."""
    source = _source(network)
    digest = hashlib.sha256(source.text.encode()).hexdigest()[:12]
    name = f"cnndsl_generated_{network.name}_{digest}"
    module = sys.modules.get(name)
    if module is None:
        filename = f"<cnndsl {network.name}>"
        # register the text so tracebacks, inspect and torch.compile can show the source
        linecache.cache[filename] = (len(source.text), None, source.text.splitlines(True),
                                     filename)
        module = types.ModuleType(name)
        exec(compile(source.text, filename, "exec"), module.__dict__)
        sys.modules[name] = module
    network_class = getattr(module, source.class_name)
    return network_class(all_outputs=True) if all_outputs and network.graph.heads \
        else network_class()


def build_file(network, output, options: dict | None = None) -> None:
    """Write the generated source to `output` (atomically, never over an input:
    cnndsl.files).

    options["weights"]: a checkpoint or state dict to map onto the module (by
    name, or by declaration order where options["by_order"], shape-checked); its state dict, keyed by this module's
    names, is saved to options["weights_out"], by default `<output stem>.pt`
    beside the source.  That default name replaces an existing file only if an
    earlier build wrote it for this same source (the source's first line records
    the weights' sha256); anything else there is refused.  Nothing is written
    unless the weights fit.  options["inference"]: the inference build's source
    (cnndsl.backends.torch.inference), with the weights folded.  options["outputs"]: the command's cnndsl.files.Outputs."""
    options = options or {}
    output = Path(output)
    outputs = options.get("outputs") or Outputs.for_network(network,
                                                            weights=options.get("weights"))
    inference = bool(options.get("inference"))
    text = generate_source(inference_network(network)[0] if inference else network)
    if not options.get("weights"):
        outputs.write(output, text)
        return
    weights_out, named, owned = weights_target(output, options, outputs)
    by_order = bool(options.get("by_order"))
    if inference:
        module = build_inference_module(network, read_state_dict(options["weights"]),
                                        by_order=by_order)
    else:
        module = build_module(network)
        load_weights(module, read_state_dict(options["weights"]), strict=True, by_order=by_order)
    import torch
    saved = {}

    def write_weights(temp: Path) -> None:
        torch.save(module.state_dict(), temp)
        saved["sha256"] = sha256_file(temp)

    def write_source(temp: Path) -> None:  # staged after the weights, so their digest is known
        temp.write_text(weights_line(weights_out, saved["sha256"]) + text, encoding="utf-8")

    outputs.write_all([(weights_out, write_weights, named, owned),
                       (output, write_source, True, None)])


def weights_target(output, options: dict, outputs: Outputs):
    """(path, named, owned) of the weights file build_file writes beside `output`,
    checked by `outputs` first: a command calls it to refuse before any work."""
    output = Path(output)
    named = bool(options.get("weights_out"))
    weights_out = Path(options["weights_out"]) if named else output.with_suffix(".pt")
    if weights_out == output or same_file(weights_out, output):
        raise WeightsError(f"{output} would hold both the source and the weights",
                           hint="name the source .py; the weights go beside it as .pt, or "
                                "where --weights-out says")
    owned = lambda found: _built_for(output, found)  # noqa: E731 - a one-line predicate
    outputs.target(weights_out, named, owned)
    return weights_out, named, owned


WEIGHTS_LINE = "# Weights: {name} (sha256 {digest}), saved with this file by cnndsl build.\n"


def weights_line(weights: Path, digest: str) -> str:
    """The first line of a source built with weights: which file, and its digest."""
    return WEIGHTS_LINE.format(name=python_text(weights.name), digest=digest)


def _built_for(source: Path, weights: Path) -> bool:
    """Whether `weights` is the file an earlier build saved with `source`: the
    source's first line names it and its digest matches."""
    try:
        with open(source, encoding="utf-8", errors="replace") as handle:
            first = handle.readline()
        return first == weights_line(weights, sha256_file(weights))
    except OSError:
        return False

