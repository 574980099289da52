"""`cifar10:PATH`: the standard CIFAR-10 python batches.

PATH (or PATH/cifar-10-batches-py) holds data_batch_1 .. data_batch_5,
test_batch and batches.meta, as unpacked from cifar-10-python.tar.gz.  The
batches are pickles; they are read with an unpickler that only accepts the
numpy arrays they contain, so a hostile file cannot run code."""

from __future__ import annotations

import pickle
from pathlib import Path

from cnndsl.train.data import DataSet, TensorSplit, channel_stats, check_labels, source
from cnndsl.limits import DATA_FILE_BYTES
from cnndsl.train.errors import DataError

TRAIN_BATCHES = tuple(f"data_batch_{k}" for k in range(1, 6))
VAL_BATCH = "test_batch"
META = "batches.meta"
CLASSES = 10
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
            ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
            ("__builtin__", "bytes"), ("builtins", "bytes")}  # b"" of an empty array


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
    size = path.stat().st_size  # checked before it is unpickled (docs/limits.md)
    if size > DATA_FILE_BYTES.value():
        raise DataError(f"{path} holds {size:,} bytes, over the limit of "
                        f"{DATA_FILE_BYTES.value():,} bytes for a data file "
                        f"(a CIFAR-10 batch holds 30 MB)", hint=DATA_FILE_BYTES.hint())
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
    images, labels = _integers(data["data"], path, "data"), _integers(data["labels"], path,
                                                                       "labels")
    if images.ndim != 2 or images.shape[1] != 3 * 32 * 32 or labels.ndim != 1 \
            or len(images) != len(labels):
        raise DataError(f"{path}: expected N x 3072 images and N labels, "
                        f"got {images.shape} and {labels.shape}")
    if not len(images):
        raise DataError(f"{path} holds no images")
    if images.min() < 0 or images.max() > 255:
        raise DataError(f"{path}: pixel values run from {images.min()} to {images.max()}, "
                        f"not 0..255", hint="a CIFAR-10 batch holds uint8 pixels")
    check_labels(labels, CLASSES, path)
    return images.astype(np.uint8).reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _integers(value, path: Path, what: str):
    """`value` as a numpy integer array; DataError for strings, floats, objects."""
    import numpy as np
    try:
        array = np.asarray(value)
    except Exception:  # ragged lists and the like
        array = None
    if array is not None and array.size == 0:
        return array.astype(np.int64)  # [] is float64 to numpy
    if array is None or array.dtype.kind not in "iu":
        kind = "odd values" if array is None else f"{array.dtype} values"
        raise DataError(f"{path}: its {what} hold {kind}, not whole numbers",
                        hint="a CIFAR-10 batch holds uint8 pixels and integer labels")
    return array


def _label_names(folder: Path) -> list[str]:
    meta = folder / META
    if not meta.is_file():
        return [str(k) for k in range(CLASSES)]
    names = _unpickle(meta).get("label_names")
    if (not isinstance(names, (list, tuple)) or len(names) != CLASSES
            or not all(isinstance(n, (bytes, str)) for n in names)):
        raise DataError(f"{meta}: label_names must be a list of {CLASSES} class names, got "
                        f"{_describe(names)}", hint=f"remove {META} to number the classes "
                                                    f"0..{CLASSES - 1}")
    decoded = [n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names]
    if len(set(decoded)) != CLASSES:
        raise DataError(f"{meta}: label_names repeat a name ({', '.join(map(repr, decoded))})")
    return decoded


def _describe(value) -> str:
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    return "none" if value is None else f"a {type(value).__name__}"
