"""The data-source registry: `--data NAME[:ARG]` -> a DataSet.

Each source is a function registered with ``@source("name")``; it receives the
part after the colon (a path, a count, or None), the spec's input shape and
class count, and returns a DataSet.  Adding a source means adding one module
here and one import at the bottom of this file."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

from cnndsl.train.errors import DataError

# name -> (loader, needs_argument, one-line description)
SOURCES: dict[str, tuple[Callable, bool, str]] = {}


def source(name: str, needs_argument: bool = False, describe: str = ""):
    """Register a data-source loader under `name`; refuses duplicates."""
    def register(loader: Callable) -> Callable:
        if name in SOURCES:
            raise ValueError(f"data source {name!r} is registered twice")
        SOURCES[name] = (loader, needs_argument, describe)
        return loader
    return register


@dataclass
class TensorSplit:
    """Images held in memory as one (N, C, H, W) tensor (uint8 or float) and labels.

    ``length`` lets a small pool stand for a larger epoch (synthetic data):
    sample i is image ``i % len(images)``."""

    images: object
    labels: object
    length: int | None = None

    def __len__(self) -> int:
        return self.length if self.length is not None else int(self.labels.shape[0])


@dataclass
class LazySplit:
    """Images read from disk by a torch Dataset yielding (uint8 C x H x W tensor, label)."""

    dataset: object

    def __len__(self) -> int:
        return len(self.dataset)


@dataclass
class DataSet:
    """A training and a validation split plus what is needed to preprocess them.

    A raw batch becomes network input as ``((x * scale) resized to the spec's
    H x W - mean) / std``, per channel (see cnndsl.train.batches.Preprocess)."""

    source: str
    train: TensorSplit | LazySplit
    val: TensorSplit | LazySplit
    classes: list[str]
    channels: int
    scale: float = 1.0 / 255.0
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)


def parse_source(text: str) -> tuple[str, str | None]:
    name, sep, arg = text.partition(":")
    name = name.strip().lower()
    if name not in SOURCES:
        raise DataError(f"unknown data source {text!r}",
                        hint="choose one of: " + ", ".join(describe_sources()))
    needs_argument = SOURCES[name][1]
    if needs_argument and not arg:
        raise DataError(f"data source {name!r} needs a path: --data {name}:PATH",
                        hint=SOURCES[name][2])
    return name, (arg or None)


def describe_sources() -> list[str]:
    return [f"{name}:PATH" if needs else name for name, (_, needs, _) in SOURCES.items()]


# the sources that can hold out part of one folder themselves (--val-split)
SPLITTABLE = ("imagefolder",)


def load_data(text: str, input_shape: tuple[int, ...], classes: int, seed: int = 0,
              val_split: float | None = None) -> DataSet:
    """Load the data source named by `text` (e.g. "digits", "mnist:/data/mnist");
    `val_split`: hold out that fraction of each class (stratified, by `seed`)."""
    name, arg = parse_source(text)
    loader = SOURCES[name][0]
    if val_split is None:
        return loader(arg, input_shape, classes, seed)
    if name not in SPLITTABLE:
        raise DataError(f"--val-split applies to {', '.join(SPLITTABLE)}; {name} has a fixed "
                        f"validation split")
    return loader(arg, input_shape, classes, seed, val_split=val_split)


def check_labels(labels, count: int, path) -> None:
    """DataError naming `path` and the first label outside 0..count-1.

    An out-of-range label would otherwise fail deep inside cross-entropy, or
    (where the class count is read from the labels) silently add classes."""
    import numpy as np
    labels = np.asarray(labels)
    bad = labels[(labels < 0) | (labels >= count)]
    if len(bad):
        raise DataError(f"{path}: label {int(bad[0])} is outside 0..{count - 1} "
                        f"({len(bad)} such label{'s' if len(bad) > 1 else ''})",
                        hint=f"this format has {count} classes, numbered 0..{count - 1}")


def channel_stats(images, scale: float) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of `images * scale`, from a sample."""
    sample = images[: min(len(images), 10000)].float() * scale
    mean = sample.mean(dim=(0, 2, 3))
    std = sample.std(dim=(0, 2, 3)).clamp_min(1e-6)
    return [float(m) for m in mean], [float(s) for s in std]


# importing each source module registers it (and pyflakes sees no unused names)
for _module in ("digits", "folders", "cifar10", "mnist", "synthetic"):
    importlib.import_module(f"{__name__}.{_module}")
