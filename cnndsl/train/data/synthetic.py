"""`synthetic[:N]`: random images of the spec's input shape, for benchmarking.

A pool of 256 random images (and random labels) stands for an epoch of N
samples (default 10,240); the pool is small enough to live on the GPU, so the
measurement is of the network, not of data loading."""

from __future__ import annotations

from cnndsl.limits import SYNTHETIC_SAMPLES
from cnndsl.train.data import DataSet, TensorSplit, source
from cnndsl.train.errors import DataError

POOL = 256
DEFAULT_LENGTH = 10240


@source("synthetic", describe="random tensors of the spec's input shape (synthetic:N for N per epoch)")
def load(arg, input_shape, classes, seed) -> DataSet:
    import torch
    try:
        length = int(arg) if arg else DEFAULT_LENGTH
    except ValueError:
        raise DataError(f"synthetic:N expects a sample count, got {arg!r}") from None
    if length < 1:
        raise DataError(f"synthetic:N needs N >= 1, got {length}")
    if length > SYNTHETIC_SAMPLES.value():  # labels and the epoch's shuffle take 16 N bytes
        raise DataError(SYNTHETIC_SAMPLES.message(length), hint=SYNTHETIC_SAMPLES.hint())
    if len(input_shape) != 3:
        raise DataError(f"synthetic data needs an image input CxHxW, the spec takes {input_shape}")
    g = torch.Generator().manual_seed(seed)
    pool = min(POOL, length)
    images = torch.randint(0, 256, (pool, *input_shape), generator=g, dtype=torch.uint8)
    train = TensorSplit(images, torch.randint(0, classes, (length,), generator=g), length=length)
    val_len = max(1, min(length // 10, 1024))
    val = TensorSplit(images[: min(pool, val_len)],
                      torch.randint(0, classes, (val_len,), generator=g), length=val_len)
    c = input_shape[0]
    return DataSet("synthetic", train, val, [str(k) for k in range(classes)], channels=c,
                   scale=1.0 / 255.0, mean=[0.5] * c, std=[0.29] * c)
