"""Checkpoints: written atomically, read safely, tied to the spec that made them.

A checkpoint is a plain dict of tensors and plain values, so it loads with
``torch.load(weights_only=True)`` (no pickled code runs):

    format, cnndsl_version, spec_path, spec_text, spec_sha256, input, params,
    config, epoch (completed), model, optimizer, scheduler, scaler, rng,
    history (metrics rows so far), best_val_acc, classes, preprocess

It is written to a temporary file in the same folder, flushed to disk, and
renamed over the target, so a crash (even SIGKILL) leaves either the old or the
new file, never a torn one."""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
from pathlib import Path

import torch

from cnndsl import __version__
from cnndsl.train.errors import CheckpointError, cannot_write

FORMAT = "cnndsl-checkpoint/1"


def spec_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


def save(path: str | Path, payload: dict) -> None:
    """Write `payload` (plus format and version) to `path` atomically.

    TrainError naming the file if it cannot be written; the old file stays."""
    path = Path(path)
    payload = {"format": FORMAT, "cnndsl_version": __version__, **payload}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    try:
        os.fchmod(fd, _file_mode())  # mkstemp makes 0600; a checkpoint is an ordinary file
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException as exc:
        Path(temp).unlink(missing_ok=True)
        # torch.save reports a failed write of its zip stream as RuntimeError
        if isinstance(exc, (OSError, RuntimeError)):
            raise cannot_write(path, exc) from None
        raise


def _file_mode() -> int:
    """The mode open() gives a new file: 0o666 less the process's umask."""
    mask = os.umask(0)  # the umask can only be read by setting it
    os.umask(mask)
    return 0o666 & ~mask


PLAIN_STATE_DICT_HINT = "for a plain state dict (e.g. torchvision weights) use --init"


def load(path: str | Path, map_location="cpu", not_ours_hint: str = PLAIN_STATE_DICT_HINT) -> dict:
    """Read a cnndsl checkpoint with weights_only=True; CheckpointError if it is not one.

    `not_ours_hint` is the hint for a readable file that cnndsl train did not write."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file",
                              hint=f"name a checkpoint in it: {path / 'best.pt'} or {path / 'last.pt'}")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many kinds for a torn or foreign file
        raise CheckpointError(f"checkpoint {path} is corrupt or not a checkpoint "
                              f"({type(exc).__name__}: {_first_line(exc)})",
                              hint="it may have been truncated; use another copy "
                                   "(best.pt, last.pt) or start again") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a cnndsl checkpoint (no {FORMAT!r} marker)",
                              hint=not_ours_hint)
    return data


def check_same_spec(data: dict, spec_text: str, path: str | Path) -> None:
    """Refuse to resume from a checkpoint that another spec wrote."""
    if data.get("spec_sha256") != spec_hash(spec_text):
        raise CheckpointError(
            f"checkpoint {path} was written for a different spec "
            f"({data.get('spec_path', '?')}, sha256 {str(data.get('spec_sha256'))[:12]}…)",
            hint="resume with the spec that started the run, or start a new run with --out")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""
