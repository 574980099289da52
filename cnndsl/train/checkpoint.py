"""Checkpoints: written atomically, read safely, tied to the spec that made them.

A checkpoint is a plain dict of tensors and plain values, so it loads with
``torch.load(weights_only=True)`` (no pickled code runs):

    format, cnndsl_version, spec_path, spec_text, spec_sha256, input, params,
    config, epoch (completed), model, optimizer, scheduler, scaler, rng,
    history (metrics rows so far), best_val_acc, classes, preprocess,
    sha256 (the digest of all the rest, cnndsl.state_dicts.digest)

It is written to a temporary file in the same folder, flushed to disk, and
renamed over the target (cnndsl.files), so a crash (even SIGKILL) leaves either
the old or the new file, never a torn one.  Reading it verifies the digest and
the structure, so a damaged or edited checkpoint is an error naming the file."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Mapping

import torch

from cnndsl import __version__
from cnndsl.files import write_atomic
from cnndsl.state_dicts import DIGEST_KEY, digest, load_file
from cnndsl.train.config import config_problems
from cnndsl.train.errors import CheckpointError
from cnndsl.train.metrics import COLUMNS

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
    """Write `payload` (plus format, version and digest) to `path` atomically
    (cnndsl.files).  OutputError naming the file if it cannot be written; the
    old file stays."""
    path = Path(path)
    payload = {"format": FORMAT, "cnndsl_version": __version__, **payload}
    payload[DIGEST_KEY] = digest(payload)

    def fill(temp: Path) -> None:
        try:
            torch.save(payload, temp)
        except RuntimeError as exc:  # torch.save reports a failed write of its zip so
            raise OSError(str(exc).strip().splitlines()[0] if str(exc).strip() else
                          "write failed") from None
    write_atomic(path, fill)


PLAIN_STATE_DICT_HINT = "for a plain state dict (e.g. torchvision weights) use --init"


def load(path: str | Path, not_ours_hint: str = PLAIN_STATE_DICT_HINT,
         notes: list[str] | None = None) -> dict:
    """Read a cnndsl checkpoint with weights_only=True, verify its digest and its
    structure; CheckpointError if it is not one or is damaged.

    `not_ours_hint` is the hint for a readable file that cnndsl train did not
    write; a note for a checkpoint without a digest is appended to `notes`."""
    path = Path(path)
    data, note = load_file(path, "checkpoint")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a cnndsl checkpoint (no {FORMAT!r} marker)",
                              hint=not_ours_hint)
    if note and notes is not None:
        notes.append(note)
    problem = next(_problems(data), None)
    if problem is not None:
        raise CheckpointError(f"checkpoint {path} is damaged: {problem}",
                              hint="it is not what cnndsl train wrote; use another copy "
                                   "(best.pt, last.pt) or train again")
    return data


def check_same_spec(data: dict, spec_text: str, path: str | Path) -> None:
    """Refuse to resume from a checkpoint that another spec wrote."""
    if data.get("spec_sha256") != spec_hash(spec_text):
        raise CheckpointError(
            f"checkpoint {path} was written for a different spec "
            f"({data.get('spec_path', '?')}, sha256 {str(data.get('spec_sha256'))[:12]}…)",
            hint="resume with the spec that started the run, or start a new run with --out")


# ---- structure: what cnndsl train writes, checked before any of it is used --------

def _problems(data: dict):
    """Each way `data` differs from what cnndsl train writes, as a message."""
    model = data.get("model")
    if not isinstance(model, Mapping) or not model:
        yield "it has no 'model' entry of weights"
        return
    bad = next((k for k, v in model.items()
                if not isinstance(k, str) or not isinstance(v, torch.Tensor)), None)
    if bad is not None:
        yield f"its model entry {bad!r} is not a named tensor"
    epoch, history = data.get("epoch"), data.get("history")
    if type(epoch) is not int or epoch < 0:
        yield f"its epoch {epoch!r} is not a count of completed epochs"
    elif not isinstance(history, list) or len(history) != epoch:
        yield f"its history does not hold one row for each of its {epoch} epochs"
    elif not all(_is_row(row, k + 1) for k, row in enumerate(history)):
        yield "its history rows are not the metrics cnndsl train records"
    config = data.get("config")
    if not isinstance(config, Mapping):
        yield "it has no config of the run's settings"
    else:
        yield from (f"its config: {p}" for p in config_problems(config))
    yield from _rng_problems(data.get("rng"))
    best = data.get("best_val_acc")
    if isinstance(best, bool) or not isinstance(best, (int, float)) or not -1 <= best <= 1:
        yield f"its best validation accuracy {best!r} is not a fraction"
    classes = data.get("classes")
    if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)):
        yield "its class names are not a list of strings"
    shape = data.get("input")
    if not (isinstance(shape, list) and len(shape) == 3
            and all(type(d) is int and d >= 1 for d in shape)):
        yield f"its input size {shape!r} is not C, H, W"
    params = data.get("params")
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        yield "its network parameters are not a dict of names"
    for key in ("optimizer", "scheduler", "scaler", "preprocess"):
        if not isinstance(data.get(key), Mapping):
            yield f"its {key} state is missing"


def _is_row(row, epoch: int) -> bool:
    return (isinstance(row, Mapping) and row.get("epoch") == epoch
            and all(isinstance(row.get(k), (int, float)) and not isinstance(row.get(k), bool)
                    for k in COLUMNS))


def _rng_problems(state):
    """Set the saved random states on a trial basis and put the current ones back."""
    if not isinstance(state, Mapping) or "torch" not in state or "python" not in state:
        yield "it has no random-number state"
        return
    current = torch.get_rng_state(), random.getstate()
    try:
        restore_rng({"torch": state["torch"], "python": state["python"]})
    except Exception:  # torch and random raise several kinds for a malformed state
        yield "its random-number state is malformed"
    finally:
        torch.set_rng_state(current[0])
        random.setstate(current[1])


def check_fits(model_state: Mapping, saved: dict, path, spec: str, use: str = "evaluate") -> None:
    """CheckpointError, naming the spec the checkpoint came from and a few of the
    differing tensors, unless its weights are exactly the network's (same names,
    same shapes, nothing extra)."""
    have = saved["model"]
    problems = [f"{k} is {_shape(have[k])} in the checkpoint, {_shape(v)} in the network"
                for k, v in model_state.items() if k in have and have[k].shape != v.shape]
    problems += [f"missing {k}" for k in model_state if k not in have]
    problems += [f"unexpected {k}" for k in have if k not in model_state]
    if problems:
        more = f"; and {len(problems) - 4} more" if len(problems) > 4 else ""
        shown = "; ".join(problems[:4]) + more
        raise CheckpointError(
            f"{path} was trained from another spec ({saved.get('spec_path', '?')}) and does "
            f"not fit {spec}: {shown}",
            hint=f"{use} it with the spec it was trained from: {saved.get('spec_path', '?')}")


def _shape(tensor) -> str:
    return "x".join(map(str, tensor.shape)) or "scalar"


def restore(saved: dict, path, model, optimizer, scheduler, scaler) -> None:
    """Load a resumed run's states; CheckpointError naming the file if one does not
    fit (a checkpoint of another optimizer, edited by hand)."""
    model.load_state_dict(saved["model"])
    for what, target in (("optimizer", optimizer), ("scheduler", scheduler), ("scaler", scaler)):
        try:
            target.load_state_dict(saved[what])
        except Exception as exc:  # torch raises ValueError, KeyError, RuntimeError ...
            raise CheckpointError(f"checkpoint {path} is damaged: its {what} state does not "
                                  f"fit this run ({type(exc).__name__})",
                                  hint="start a new run, or --init from it") from None
    restore_rng(saved["rng"])
