"""Reading weights from disk: one reader for every command that takes a file of
weights (`build --weights`, `train --init`, the Python API).

A file may hold a checkpoint written by `cnndsl train` (its "model" entry is
the state dict), a bare saved state dict (e.g. torchvision's
``resnet34-b627a593.pth``), or a training script's wrapper around one
("state_dict", "model_state_dict"). It is always read with
``torch.load(weights_only=True)``, so no pickled code runs. Every way a file
can be wrong is a WeightsError (a SpecError): the command line prints it and
exits 1, never a traceback.

A cnndsl checkpoint carries the sha256 digest of its contents (every tensor's
dtype, shape and bytes, and every other value); each reader verifies it, so a
flipped byte is an error naming the file, not a silently different network.
Checkpoints written before digests existed still load, with a note.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Mapping

from cnndsl.errors import SpecError

WRAPPER_KEYS = ("model", "state_dict", "model_state_dict")
WRAPPER_PREFIXES = ("module.", "_orig_mod.")
CHECKPOINT_PREFIX = "cnndsl"  # the format marker of a checkpoint starts with it
DIGEST_KEY = "sha256"  # the checkpoint entry holding the digest of all the others
NO_DIGEST_NOTE = ("note: {path} carries no digest (written before cnndsl checked them), so "
                  "its contents cannot be verified")
HINT = "pass a checkpoint written by `cnndsl train` (best.pt, last.pt) or a saved state_dict"


class WeightsError(SpecError):
    """A weights file or state dict that is missing, unreadable or does not fit."""


def read_state_dict(path: str | Path, role: str = "weights file",
                    notes: list[str] | None = None) -> dict:
    """The state dict (name -> tensor) held by the file at `path`.

    `role` names the file in messages ("--init file", "weights file"); a note
    for a checkpoint without a digest is appended to `notes`."""
    import torch  # only needed to read weights; `cnndsl check` never gets here

    data, note = load_file(path, role, cached=True)
    if note and notes is not None:
        notes.append(note)
    data = _unwrap(data)
    if not data or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise WeightsError(f"{role} {path} holds neither a cnndsl checkpoint nor a state dict "
                           f"of tensors", hint=HINT)
    odd = next((k for k in data if not isinstance(k, str)), None)
    if odd is not None:
        raise WeightsError(f"{role} {path} is not a state dict: key {odd!r} is a "
                           f"{type(odd).__name__}, not a parameter name", hint=HINT)
    return strip_parallel_prefix(dict(data))


def load_file(path: str | Path, role: str, cached: bool = False) -> tuple[object, str | None]:
    """What torch.load(weights_only=True) reads from `path`, and a note when it is
    a cnndsl checkpoint without a digest.  WeightsError for a missing, unreadable
    or foreign file, and for a checkpoint whose digest does not match."""
    path = Path(path)
    if path.is_dir():
        raise WeightsError(f"{role} {path} is a folder, not a "
                           f"{'checkpoint' if role == 'checkpoint' else 'file of weights'} file",
                           hint=f"name a file in it: {path / 'best.pt'} or {path / 'last.pt'}")
    if not path.is_file():
        raise WeightsError(f"{role} {path} does not exist")
    if not cached:
        return _verified(_torch_load(path, role), path, role)
    stat = path.stat()
    return _cached_load(str(path.resolve()), stat.st_mtime_ns, stat.st_size, role)


def training_setup(path: str | Path) -> tuple[tuple[int, ...], dict] | None:
    """The input shape and network parameters a checkpoint written by `cnndsl
    train` was trained with (training may have set `classes` from the data, or
    the user --input and --set); None for any other file of weights."""
    path = Path(path)
    if not path.is_file():
        return None
    data, _ = load_file(path, "weights file", cached=True)
    if not (is_checkpoint(data) and isinstance(data.get("input"), (list, tuple))):
        return None
    shape, params = data["input"], data.get("params") or {}
    if not (1 <= len(shape) <= 3 and all(type(d) is int and d >= 1 for d in shape)
            and isinstance(params, Mapping) and all(isinstance(k, str) for k in params)):
        raise WeightsError(f"checkpoint {path} is damaged: its input {shape!r} or parameters "
                           f"are not what cnndsl train writes", hint=HINT)
    return tuple(shape), dict(params)


def is_checkpoint(data: object) -> bool:
    """Whether `data` (as loaded) carries the format marker of a cnndsl checkpoint."""
    return isinstance(data, Mapping) and str(data.get("format", "")).startswith(CHECKPOINT_PREFIX)


@functools.lru_cache(maxsize=1)  # build reads the same file for its setup, then its weights
def _cached_load(path: str, mtime_ns: int, size: int, role: str):
    return _verified(_torch_load(Path(path), role), path, role)


def _torch_load(path: Path, role: str):
    import pickle

    import torch
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message advises weights_only=False, which would run any code the
        # file holds: never pass that on
        if "unsupported global" in str(exc).lower():
            raise WeightsError(f"cannot read {role} {path}: it holds Python objects other than "
                               f"tensors, numbers and strings, which cnndsl does not load (it "
                               f"never runs code from a weights file)", hint=HINT) from None
        raise _unreadable(path, role, exc) from None
    except Exception as exc:  # torch raises many kinds for a torn or foreign file
        raise _unreadable(path, role, exc) from None


def _unreadable(path: Path, role: str, exc: Exception) -> WeightsError:
    return WeightsError(f"cannot read {role} {path}: it is corrupt or not a torch file "
                        f"({type(exc).__name__})",
                        hint=HINT + "; a truncated checkpoint may have another copy (best.pt, "
                                    "last.pt)")


def _verified(data: object, path, role: str) -> tuple[object, str | None]:
    """`data` and its note, after checking a checkpoint's digest."""
    if not is_checkpoint(data):
        return data, None
    saved = data.get(DIGEST_KEY)
    if saved is None:
        return data, NO_DIGEST_NOTE.format(path=path)
    if saved != digest(data):
        raise WeightsError(f"checkpoint {path} is damaged: its contents do not match the sha256 "
                           f"digest it was saved with", hint="it was changed after cnndsl train "
                           "wrote it; use another copy (best.pt, last.pt) or train again")
    return data, None


def digest(payload: Mapping) -> str:
    """The sha256 of everything in a checkpoint but its digest: each key, each
    tensor's dtype, shape and bytes, and each other value, in order."""
    sha = hashlib.sha256()
    _feed(sha, {k: v for k, v in payload.items() if k != DIGEST_KEY})
    return sha.hexdigest()


def _feed(sha, value) -> None:
    import torch
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        sha.update(f"tensor {tensor.dtype} {tuple(tensor.shape)};".encode())
        sha.update(tensor.reshape(-1).view(torch.uint8).numpy().data)
    elif isinstance(value, Mapping):
        sha.update(f"dict {len(value)};".encode())
        for key, item in value.items():
            sha.update(f"{type(key).__name__} {key!r}:".encode("utf-8", "backslashreplace"))
            _feed(sha, item)
    elif isinstance(value, (list, tuple)):
        sha.update(f"{type(value).__name__} {len(value)};".encode())
        for item in value:
            _feed(sha, item)
    else:  # str, int, float, bool, None: repr is exact
        sha.update(f"{type(value).__name__} {value!r};".encode("utf-8", "backslashreplace"))


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
