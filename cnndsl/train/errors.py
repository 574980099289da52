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
