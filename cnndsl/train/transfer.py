"""Transfer learning: --init (weights by name, or declaration order) and --freeze PATTERN.

--init takes a cnndsl checkpoint or any file holding a state dict (e.g.
torchvision's ``resnet34-b627a593.pth``).  Tensors pair by name (a zoo spec
labelled as torchvision names its layers loads torchvision's keys), or with
--by-order by declaration order (weights named another way: torchvision's
``layer2.0.conv1`` for an unlabelled spec's ``basic4.conv1``), with shape checks;
a tensor whose shape differs — the usual case is a new classifier head for
another class count — keeps its fresh initialisation.

--freeze takes shell-style patterns matched against a layer's dotted
hierarchical name or any dotted suffix of it (cnndsl.train.patterns): ``conv1``,
``basic*``, ``stage1.*``; matching layers stop training (requires_grad off,
batch-norm statistics frozen too)."""

from __future__ import annotations

from pathlib import Path

import torch

from cnndsl.state_dicts import read_state_dict
from cnndsl.train.errors import CheckpointError, TrainError


def init_from(model: torch.nn.Module, path: str | Path, notes: list[str] | None = None,
              by_order: bool = False):
    """Copy the tensors of `path` into `model`, paired by name (by declaration order
    with `by_order`).

    Pairing is the PyTorch back end's (cnndsl.backends.torch.weights): a head of
    another size is reported as mismatched and keeps its fresh initialisation.
    Returns the back end's WeightReport."""
    from cnndsl.backends.torch.weights import load_weights
    report = load_weights(model, read_state_dict(path, role="--init file", notes=notes),
                          strict=False, by_order=by_order)
    if not report.loaded:
        raise CheckpointError(f"--init file {path} matches none of the network's tensors",
                              hint=(report.hint or "is it a state dict of the same "
                                    "architecture?").replace("by_order=True (--by-order)",
                                                              "--by-order"))
    return report


def layer_name(parameter_name: str) -> str:
    return parameter_name.rpartition(".")[0]


def freeze(model: torch.nn.Module, patterns: list[str]) -> list[str]:
    """Freeze the layers whose hierarchical name matches a pattern (the rule of
    cnndsl.train.patterns); returns their names.  Every pattern must match a
    layer with weights: one that matches none is an error naming it."""
    if not patterns:
        return []
    from cnndsl.train.patterns import closest, select
    layers = _layers(model)
    frozen, unmatched = select(list(layers), patterns)
    if unmatched:
        pattern = unmatched[0]
        others = f" (nor do {', '.join(unmatched[1:])})" if len(unmatched) > 1 else ""
        raise TrainError(f"--freeze {pattern} matches no layer with weights{others}",
                         hint=f"closest names: {', '.join(closest(pattern, list(layers)))}; a "
                              "pattern is a glob matched against a layer's dotted name or any "
                              "dotted suffix of it (docs/training.md)")
    for name in frozen:
        for parameter in layers[name]:
            parameter.requires_grad_(False)
    return frozen


def _layers(model: torch.nn.Module) -> dict[str, list]:
    """Layer name -> its parameters: each torch.nn module with weights or batch-norm
    statistics, and each parameter a block holds itself, which is a layer of its own
    (a layer scale, `features.1.0.layer_scale`, as torchvision's CNBlock holds it)."""
    layers = {}
    for name, module in model.named_modules():
        own = dict(module.named_parameters(recurse=False))
        if type(module).__module__.startswith("torch.nn"):
            if name and (own or isinstance(module, torch.nn.modules.batchnorm._BatchNorm)):
                layers[name] = list(own.values())
        else:
            layers.update((f"{name}.{key}" if name else key, [parameter])
                          for key, parameter in own.items())
    return layers


def keep_frozen_bn_in_eval(model: torch.nn.Module, frozen: list[str]) -> None:
    """Frozen batch norms keep their running statistics: call after model.train()."""
    names = set(frozen)
    for name, module in model.named_modules():
        if name in names and isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()
