"""`mnist:PATH`: the standard IDX files (MNIST, Fashion-MNIST, KMNIST all use them).

PATH holds train-images-idx3-ubyte, train-labels-idx1-ubyte,
t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each optionally gzipped
(``.gz``); torchvision's download layout (PATH/MNIST/raw/) is found too.  The
t10k files are the held-out split."""

from __future__ import annotations

import gzip
from pathlib import Path

from cnndsl.train.data import DataSet, TensorSplit, channel_stats, check_labels, source
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
    """An IDX file as a numpy uint8 array (big-endian header: magic, then one int32 per dim)."""
    import numpy as np
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if len(data) < 8 or int.from_bytes(data[:4], "big") != magic:
        kind = "images (magic 0x00000803)" if magic == IMAGE_MAGIC else "labels (magic 0x00000801)"
        raise DataError(f"{path} is not an IDX file of {kind}")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    expected = int(np.prod(dims))
    if len(data) - header != expected:
        raise DataError(f"{path} is truncated or padded: its header says {dims} "
                        f"({expected} bytes), the file holds {len(data) - header}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()
