"""Transfer learning: --init (weights by declaration order) and --freeze PATTERN.

--init takes a cnndsl checkpoint or any file holding a state dict (e.g.
torchvision's ``resnet34-b627a593.pth``).  Tensors are matched by declaration
order, not by name (torchvision's ``layer2.0.conv1`` is our ``basic4.conv1``),
with shape checks; a tensor whose shape differs — the usual case is a new
classifier head for another class count — keeps its fresh initialisation.

--freeze takes shell-style patterns on hierarchical layer names (``conv1``,
``basic*``, ``layer1.*``); matching layers stop training (requires_grad off,
batch-norm statistics frozen too)."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import torch

from cnndsl.state_dicts import read_state_dict
from cnndsl.train.errors import CheckpointError, TrainError


def init_from(model: torch.nn.Module, path: str | Path, notes: list[str] | None = None):
    """Copy the tensors of `path` into `model`, paired by declaration order.

    Pairing is the PyTorch back end's (cnndsl.backends.torch.weights.align):
    entries are matched in order on their kind and shape, so a head of another
    size is reported as mismatched and keeps its fresh initialisation.
    Returns the back end's WeightReport."""
    from cnndsl.backends.torch.weights import load_weights
    report = load_weights(model, read_state_dict(path, role="--init file", notes=notes),
                          strict=False)
    if not report.loaded:
        raise CheckpointError(f"--init file {path} matches none of the network's tensors",
                              hint="is it a state dict of the same architecture?")
    return report


def layer_name(parameter_name: str) -> str:
    return parameter_name.rpartition(".")[0]


def freeze(model: torch.nn.Module, patterns: list[str]) -> list[str]:
    """Freeze the layers whose hierarchical name matches a pattern; returns their names."""
    if not patterns:
        return []
    frozen = []
    for name, module in model.named_modules():
        if not name or not any(_matches(name, p) for p in patterns):
            continue
        own = list(module.parameters(recurse=False))
        for parameter in own:
            parameter.requires_grad_(False)
        if own or isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            frozen.append(name)
    if not frozen:
        names = [n for n, m in model.named_modules() if n and any(True for _ in m.parameters(False))]
        raise TrainError(f"--freeze {' '.join(patterns)} matches no layer",
                         hint="layers with weights: " + ", ".join(names[:12])
                              + (" …" if len(names) > 12 else ""))
    return frozen


def _matches(name: str, pattern: str) -> bool:
    """`pattern` matches the layer itself or any block it sits in (``layer1`` freezes layer1.*)."""
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(name, pattern + ".*")


def keep_frozen_bn_in_eval(model: torch.nn.Module, frozen: list[str]) -> None:
    """Frozen batch norms keep their running statistics: call after model.train()."""
    names = set(frozen)
    for name, module in model.named_modules():
        if name in names and isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()
