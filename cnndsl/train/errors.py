"""Errors a person can cause while training: bad data, bad checkpoints, divergence.

They derive from :class:`cnndsl.SpecError`, so the command line prints the
message and exits 1 instead of showing a traceback."""

from __future__ import annotations

from cnndsl.errors import SpecError


class TrainError(SpecError):
    """Base class of the training errors; renders as ``error: message`` and a hint."""


class DataError(TrainError):
    """A data source that is missing, malformed, or does not fit the spec."""


class CheckpointError(TrainError):
    """A checkpoint that is missing, corrupt, or belongs to another spec."""


class Diverged(TrainError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""



def cannot_write(path, exc: Exception) -> TrainError:
    """The error for a failed write of one of a run's files: which file, and why."""
    lines = str(exc).strip().splitlines()
    reason = getattr(exc, "strerror", None) or (lines[0] if lines else type(exc).__name__)
    return TrainError(f"cannot write {path}: {reason}",
                      hint="is the disk full or the folder read-only? files written before are kept")
