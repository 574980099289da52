"""`mnist:PATH`: the standard IDX files (MNIST, Fashion-MNIST, KMNIST all use them).

PATH holds train-images-idx3-ubyte, train-labels-idx1-ubyte,
t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each optionally gzipped
(``.gz``); torchvision's download layout (PATH/MNIST/raw/) is found too.  The
t10k files are the held-out split."""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

from cnndsl.train.data import DataSet, TensorSplit, channel_stats, check_labels, source
from cnndsl.limits import DATA_FILE_BYTES
from cnndsl.train.errors import DataError

FILES = {
    "train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
    "val_images": "t10k-images-idx3-ubyte", "val_labels": "t10k-labels-idx1-ubyte",
}
IMAGE_MAGIC, LABEL_MAGIC = 0x0803, 0x0801  # unsigned bytes, 3 or 1 dimensions
CLASSES = 10  # MNIST, Fashion-MNIST and KMNIST all label 0..9


@source("mnist", needs_argument=True,
        describe="mnist:PATH, a folder with the four IDX files (train-*, t10k-*)")
def load(arg, input_shape, classes, seed) -> DataSet:
    import torch
    folder = _find_folder(Path(arg))
    found = {key: _find_file(folder, name) for key, name in FILES.items()}
    train_x = _read_idx(found["train_images"], IMAGE_MAGIC)
    train_y = _read_idx(found["train_labels"], LABEL_MAGIC)
    val_x = _read_idx(found["val_images"], IMAGE_MAGIC)
    val_y = _read_idx(found["val_labels"], LABEL_MAGIC)
    check_labels(train_y, CLASSES, found["train_labels"])
    check_labels(val_y, CLASSES, found["val_labels"])
    for x, y, what in ((train_x, train_y, "train"), (val_x, val_y, "t10k")):
        if len(x) != len(y):
            raise DataError(f"{folder}: {what} images ({len(x)}) and labels ({len(y)}) differ in count")
    if train_x.ndim != 3 or val_x.shape[1:] != train_x.shape[1:]:
        raise DataError(f"{folder}: image files must hold N x H x W images of one size")
    train = TensorSplit(torch.from_numpy(train_x).unsqueeze(1), torch.from_numpy(train_y).long())
    val = TensorSplit(torch.from_numpy(val_x).unsqueeze(1), torch.from_numpy(val_y).long())
    # a subset (say digits 0..2) trains with its own class count; check_labels caps it at 10
    count = int(max(train.labels.max(), val.labels.max())) + 1
    mean, std = channel_stats(train.images, 1.0 / 255.0)
    return DataSet(f"mnist:{arg}", train, val, [str(k) for k in range(count)], channels=1,
                   mean=mean, std=std)


def _find_folder(path: Path) -> Path:
    if not path.exists():
        raise DataError(f"mnist data folder {path} does not exist",
                        hint="expected a folder with " + ", ".join(FILES.values()))
    for candidate in (path, path / "raw", path / "MNIST" / "raw"):
        if any((candidate / (FILES["train_images"] + ext)).is_file() for ext in ("", ".gz")):
            return candidate
    if not path.is_dir():
        raise DataError(f"mnist:PATH must be a folder, {path} is a file")
    return path


def _find_file(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / (name + ".gz"), folder / name.replace("-idx", ".idx")):
        if candidate.is_file():
            return candidate
    raise DataError(f"{folder} has no {name} (or {name}.gz)",
                    hint="an MNIST folder holds " + ", ".join(FILES.values()))


def _read_idx(path: Path, magic: int):
    """An IDX file as a numpy uint8 array (big-endian header: magic, then one int32 per dim).

    The header is read and checked first, and then exactly the bytes it
    announces, streamed (a .gz is decompressed as it is read): a gzip bomb or a
    header claiming terabytes is refused before the data are unpacked
    (DATA_FILE_BYTES, docs/limits.md)."""
    import numpy as np
    kind = "images (magic 0x00000803)" if magic == IMAGE_MAGIC else "labels (magic 0x00000801)"
    want = 3 if magic == IMAGE_MAGIC else 1
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(4)
            if len(head) < 4 or int.from_bytes(head, "big") != magic:
                raise DataError(f"{path} is not an IDX file of {kind}")
            dims_bytes = handle.read(4 * want)
            if len(dims_bytes) < 4 * want:
                raise DataError(f"{path} is truncated: its header ends early")
            dims = [int.from_bytes(dims_bytes[4 * i:4 * i + 4], "big") for i in range(want)]
            expected = _check_dims(path, dims, magic)
            data = _read_exactly(handle, expected)
            if len(data) != expected:
                raise DataError(f"{path} is truncated: its header says {dims} ({expected:,} "
                                f"bytes), the file holds {len(data):,}")
            if handle.read(1):
                raise DataError(f"{path} is padded: it holds more than the {expected:,} bytes "
                                f"its header says ({dims})")
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    return np.frombuffer(data, dtype=np.uint8).reshape(dims).copy()


def _check_dims(path: Path, dims: list[int], magic: int) -> int:
    """The byte count the header announces, after refusing sizes no data set has."""
    if dims[0] == 0:
        raise DataError(f"{path} holds no {'images' if magic == IMAGE_MAGIC else 'labels'} "
                        f"(its header says 0)")
    if magic == IMAGE_MAGIC and 0 in dims[1:]:
        raise DataError(f"{path}: its images are {dims[1]}x{dims[2]} pixels; an image needs at "
                        f"least one")
    expected = math.prod(dims)
    if expected > DATA_FILE_BYTES.value():
        raise DataError(f"{path}: its header announces {'x'.join(map(str, dims))} = "
                        f"{expected:,} bytes, over the limit of {DATA_FILE_BYTES.value():,} "
                        f"bytes for a data file", hint=DATA_FILE_BYTES.hint())
    return expected


def _read_exactly(handle, count: int, chunk: int = 1 << 24) -> bytes:
    """Up to `count` bytes, read in pieces (a short read is not the end of a gzip)."""
    parts, left = [], count
    while left:
        part = handle.read(min(left, chunk))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)
