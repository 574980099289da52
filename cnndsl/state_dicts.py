"""Reading weights from disk: one reader for every command that takes a file of
weights (`build --weights`, `train --init`, the Python API).

A file may hold a checkpoint written by `cnndsl train` (its "model" entry is
the state dict), a bare saved state dict (e.g. torchvision's
``resnet34-b627a593.pth``), or a training script's wrapper around one
("state_dict", "model_state_dict"). It is always read with
``torch.load(weights_only=True)``, so no pickled code runs. Every way a file
can be wrong is a WeightsError (a SpecError): the command line prints it and
exits 1, never a traceback.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Mapping

from cnndsl.errors import SpecError

WRAPPER_KEYS = ("model", "state_dict", "model_state_dict")
WRAPPER_PREFIXES = ("module.", "_orig_mod.")


class WeightsError(SpecError):
    """A weights file or state dict that is missing, unreadable or does not fit."""


def read_state_dict(path: str | Path, role: str = "weights file") -> dict:
    """The state dict (name -> tensor) held by the file at `path`.

    `role` names the file in messages ("--init file", "weights file")."""
    path = Path(path)
    if path.is_dir():
        raise WeightsError(f"{role} {path} is a folder, not a file of weights")
    if not path.is_file():
        raise WeightsError(f"{role} {path} does not exist")
    import torch  # only needed to read weights; `cnndsl check` never gets here

    data = _unwrap(_load(path, role))
    if not data or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise WeightsError(f"{role} {path} holds neither a cnndsl checkpoint nor a state dict "
                           f"of tensors",
                           hint="pass a checkpoint written by `cnndsl train` (best.pt, "
                                "last.pt) or a saved state_dict")
    return strip_parallel_prefix(dict(data))


def training_setup(path: str | Path) -> tuple[tuple[int, ...], dict] | None:
    """The input shape and network parameters a checkpoint written by `cnndsl
    train` was trained with (training may have set `classes` from the data, or
    the user --input and --set); None for any other file of weights."""
    path = Path(path)
    if not path.is_file():
        return None
    data = _load(path, "weights file")
    if not (isinstance(data, Mapping) and str(data.get("format", "")).startswith("cnndsl")
            and isinstance(data.get("input"), (list, tuple))):
        return None
    return tuple(data["input"]), dict(data.get("params") or {})


def _load(path: Path, role: str):
    stat = path.stat()
    return _cached_load(str(path.resolve()), stat.st_mtime_ns, stat.st_size, role)


@functools.lru_cache(maxsize=1)  # build reads the same file for its setup, then its weights
def _cached_load(path: str, mtime_ns: int, size: int, role: str):
    import torch
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a torn or foreign file
        raise WeightsError(f"cannot read {role} {path}: it is corrupt or not a torch file "
                           f"({type(exc).__name__})",
                           hint="pass a checkpoint written by `cnndsl train` (best.pt, "
                                "last.pt) or a saved state_dict") from None


def _unwrap(data: object) -> Mapping:
    if hasattr(data, "state_dict") and callable(data.state_dict):
        return data.state_dict()
    if not isinstance(data, Mapping):
        return {}
    for key in WRAPPER_KEYS:
        if isinstance(data.get(key), Mapping):
            return data[key]
    return data


def strip_parallel_prefix(state_dict: dict) -> dict:
    """Drop the "module." that DataParallel and DistributedDataParallel, and the
    "_orig_mod." that torch.compile, put in front of every key of the module they
    wrap (in any nesting)."""
    for _ in range(4):
        prefix = next((p for p in WRAPPER_PREFIXES
                       if state_dict and all(k.startswith(p) for k in state_dict)), None)
        if prefix is None:
            break
        state_dict = {k[len(prefix):]: v for k, v in state_dict.items()}
    return state_dict
