"""`digits` (the default): scikit-learn's 1,797 real handwritten digits, 8x8, 10 classes.

They ship with scikit-learn, so training works offline.  The held-out split is
fixed (20% of each class, chosen with a fixed seed, independent of --seed), so
accuracies of different runs compare.  Images are upsampled to the spec's
input size on the fly (cnndsl.train.batches.Preprocess)."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

from cnndsl.train.data import DataSet, TensorSplit, channel_stats, source
from cnndsl.train.errors import DataError

VAL_FRACTION = 0.2
SPLIT_SEED = 0  # fixed: the held-out set never changes
LEVELS = 16.0  # pixel values are 0..16


@source("digits", describe="scikit-learn's handwritten digits (8x8, 10 classes), offline")
def load(arg, input_shape, classes, seed) -> DataSet:
    if arg:
        raise DataError(f"data source 'digits' takes no argument, got {arg!r}")
    import numpy as np
    import torch
    images, target = _read()
    train_idx, val_idx = stratified_split(target, VAL_FRACTION, SPLIT_SEED)
    x = torch.from_numpy(images.reshape(-1, 1, 8, 8).astype(np.float32))
    y = torch.from_numpy(target.astype(np.int64))
    train = TensorSplit(x[train_idx], y[train_idx])
    mean, std = channel_stats(train.images, 1.0 / LEVELS)
    return DataSet("digits", train, TensorSplit(x[val_idx], y[val_idx]),
                   [str(d) for d in range(10)], channels=1, scale=1.0 / LEVELS,
                   mean=mean, std=std)


def _read():
    """(images (N, 64) float, labels (N,) int) from the CSV load_digits reads.

    Reading the file directly skips importing sklearn.datasets (about a second)."""
    import numpy as np
    spec = importlib.util.find_spec("sklearn")
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec else None
    if path is not None and path.is_file():
        with gzip.open(path, "rt") as handle:
            data = np.loadtxt(handle, delimiter=",")
        return data[:, :-1], data[:, -1].astype(np.int64)
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("the 'digits' data set needs scikit-learn",
                        hint="pip install scikit-learn") from None
    bunch = load_digits()
    return bunch.data, bunch.target


def stratified_split(labels, fraction: float, seed: int):
    """Indices (train, val): `fraction` of every class goes to val, chosen by `seed`."""
    import numpy as np
    rng = np.random.RandomState(seed)
    train, val = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        cut = int(round(len(members) * fraction))
        val.extend(members[:cut])
        train.extend(members[cut:])
    return np.sort(np.array(train)), np.sort(np.array(val))
