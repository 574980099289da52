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

from cnndsl.backends.torch.weights import WeightReport, load_weights
from cnndsl.state_dicts import WeightsError, read_state_dict

__all__ = ["WeightReport", "build_file", "build_module", "generate_source", "load_weights"]


def generate_source(network) -> str:
    """The generated Python source for `network` (a cnndsl.Network)."""
    return _source(network).text


def _source(network):
    from cnndsl import __version__
    from cnndsl.backends.torch.codegen import generate
    return generate(network, __version__)


def build_module(network):
    """An nn.Module computing `network`, built by executing its generated source.

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
    return getattr(module, source.class_name)()


def build_file(network, output, options: dict | None = None) -> None:
    """Write the generated source to `output`.  options["weights"]: a checkpoint or
    state dict to map onto the module (by declaration order, shape-checked); it is
    saved beside the source as `<output stem>.pt`, keyed by this module's names.
    Nothing is written unless the weights fit."""
    options = options or {}
    output = Path(output)
    text = generate_source(network)
    module = None
    if options.get("weights"):
        module = build_module(network)
        load_weights(module, read_state_dict(options["weights"]), strict=True)
        weights_out = output.with_suffix(".pt")
        if weights_out.resolve() == Path(options["weights"]).resolve():
            raise WeightsError(f"writing {weights_out} would overwrite the weights file it reads",
                               hint="choose another -o name")
        if weights_out == output:
            raise WeightsError(f"{output} would hold both the source and the weights",
                               hint="name the source .py; the weights go beside it as .pt")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    if module is not None:
        import torch
        torch.save(module.state_dict(), output.with_suffix(".pt"))
