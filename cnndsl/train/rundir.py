"""The run folder (--out), checked before any data are loaded.

A new run never writes into a folder that holds another run (it would replace
that run's checkpoints and metrics), and an unwritable folder is reported
before an epoch is spent, not when the first checkpoint is due."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from cnndsl.train.errors import TrainError

RUN_FILES = ("last.pt", "best.pt", "metrics.csv")  # what makes a folder hold a run
WRITTEN = (*RUN_FILES, "curves.png")  # every file a run writes into --out
# the temporary names written before an atomic rename (cnndsl.files), and the probe's
OWN_TEMPORARIES = tuple(f".{name}." for name in (*WRITTEN, "probe"))


def refuse_existing_run(out: Path, resume: bool) -> None:
    """TrainError if `out` already holds a file a new run would write (a run's, or
    a curves.png of something else) and this is not --resume: a run replaces
    only the files it wrote itself."""
    found = [name for name in WRITTEN if os.path.lexists(out / name)]
    if not found or resume:
        return
    hint = (f"add --resume to continue that run, or choose another --out (or delete {out} "
            f"first)")
    if set(found) & set(RUN_FILES):
        raise TrainError(f"--out {out} already holds a run ({', '.join(found)}); "
                         f"a new run would overwrite it", hint=hint)
    raise TrainError(f"--out {out} already holds {', '.join(found)}, which a new run writes; "
                     f"it would be overwritten", hint=f"choose another --out, or move "
                                                   f"{', '.join(found)} away")


def prepare(out: Path) -> list[Path]:
    """Create `out` if needed, prove it writable, and remove stale temporaries.

    Returns the folders created here (`out` and any missing parents such as
    runs/, deepest first; empty when `out` existed), for remove_if_empty."""
    created = _missing(out)
    if not created and not out.is_dir():
        raise TrainError(f"--out {out} is a file, not a folder",
                         hint="--out names the folder the run's files go to")
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".probe.", suffix=".tmp", dir=out)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        if created:
            remove_if_empty(out, created)
        raise TrainError(f"cannot write to --out {out}: {exc.strerror or exc}",
                         hint="choose a folder you can write to") from None
    for stale in out.iterdir():  # left by a run killed while writing; only ours
        if stale.name.startswith(OWN_TEMPORARIES) and ".tmp" in stale.name and stale.is_file():
            stale.unlink(missing_ok=True)
    return created


def remove_if_empty(out: Path, created: list[Path] | None = None) -> None:
    """Remove `out`, and the parents prepare() created for it, if they hold nothing:
    a run that failed to start leaves no empty runs/NAME (nor runs/) behind."""
    for folder in created or [out]:
        with contextlib.suppress(OSError):  # rmdir refuses a folder that holds anything
            folder.rmdir()


def _missing(out: Path) -> list[Path]:
    """`out` and its ancestors that do not exist yet, deepest first."""
    missing = []
    for folder in (out, *out.parents):
        if folder.exists() or os.path.lexists(folder):
            break
        missing.append(folder)
    return missing

