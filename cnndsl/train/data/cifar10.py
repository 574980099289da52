"""`cifar10:PATH`: the standard CIFAR-10 python batches.

PATH (or PATH/cifar-10-batches-py) holds data_batch_1 .. data_batch_5,
test_batch and batches.meta, as unpacked from cifar-10-python.tar.gz.  The
batches are pickles; they are read with an unpickler that only accepts the
numpy arrays they contain, so a hostile file cannot run code."""

from __future__ import annotations

import pickle
from pathlib import Path

from cnndsl.train.data import DataSet, TensorSplit, channel_stats, check_labels, source
from cnndsl.train.errors import DataError

TRAIN_BATCHES = tuple(f"data_batch_{k}" for k in range(1, 6))
VAL_BATCH = "test_batch"
META = "batches.meta"
CLASSES = 10
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
            ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar")}


@source("cifar10", needs_argument=True,
        describe="cifar10:PATH, the python batches (data_batch_1..5, test_batch)")
def load(arg, input_shape, classes, seed) -> DataSet:
    import numpy as np
    import torch
    folder = _find_folder(Path(arg))
    train = [_read_batch(folder / name) for name in TRAIN_BATCHES]
    val = _read_batch(folder / VAL_BATCH)
    train_x = np.concatenate([x for x, _ in train])
    train_y = np.concatenate([y for _, y in train])
    names = _label_names(folder)
    train_split = TensorSplit(torch.from_numpy(train_x), torch.from_numpy(train_y))
    mean, std = channel_stats(train_split.images, 1.0 / 255.0)
    return DataSet(f"cifar10:{arg}", train_split,
                   TensorSplit(torch.from_numpy(val[0]), torch.from_numpy(val[1])),
                   names, channels=3, mean=mean, std=std)


def _find_folder(path: Path) -> Path:
    if not path.is_dir():
        problem = "is a file, not a folder" if path.exists() else "does not exist"
        raise DataError(f"cifar10 data folder {path} {problem}",
                        hint="expected the unpacked cifar-10-batches-py folder")
    for candidate in (path, path / "cifar-10-batches-py"):
        if (candidate / "data_batch_1").is_file():
            return candidate
    raise DataError(f"{path} has no data_batch_1",
                    hint="a CIFAR-10 folder holds data_batch_1 .. data_batch_5, test_batch, batches.meta")


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _unpickle(path: Path) -> dict:
    if not path.is_file():
        raise DataError(f"missing CIFAR-10 file {path}",
                        hint="a CIFAR-10 folder holds data_batch_1 .. data_batch_5, test_batch, batches.meta")
    try:
        with open(path, "rb") as handle:
            data = _ArraysOnly(handle, encoding="bytes").load()
    except Exception as exc:  # any unpickling failure means the file is not a CIFAR batch
        raise DataError(f"{path} is not a CIFAR-10 python batch ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path} is not a CIFAR-10 python batch (expected a dict)")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in data.items()}


def _read_batch(path: Path):
    import numpy as np
    data = _unpickle(path)
    if "data" not in data or "labels" not in data:
        raise DataError(f"{path} has no 'data' and 'labels' entries; is it a CIFAR-10 batch?")
    images = np.asarray(data["data"], dtype=np.uint8)
    labels = np.asarray(data["labels"], dtype=np.int64)
    if images.ndim != 2 or images.shape[1] != 3 * 32 * 32 or len(images) != len(labels):
        raise DataError(f"{path}: expected N x 3072 images and N labels, "
                        f"got {images.shape} and {labels.shape}")
    check_labels(labels, CLASSES, path)
    return images.reshape(-1, 3, 32, 32), labels


def _label_names(folder: Path) -> list[str]:
    meta = folder / META
    if meta.is_file():
        names = _unpickle(meta).get("label_names")
        if names:
            return [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    return [str(k) for k in range(CLASSES)]
