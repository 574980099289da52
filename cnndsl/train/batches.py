"""Batches for training and validation, sharded across DDP processes.

Sharding follows torch's DistributedSampler: an epoch's permutation is drawn
from (seed, epoch) and process r takes every world-th index from r.  The
global batch k is then ``perm[k*B:(k+1)*B]`` whatever the number of processes,
so one process and N processes see the same batches.  The last incomplete
global batch is dropped (each epoch reshuffles, so every image is used).

Small data sets (TensorSplit) are indexed in memory, on the device when there
is one; on-disk sets (LazySplit) go through a DataLoader with workers and
pinned memory.  Either way a batch reaches the device as uint8 (or raw float)
and Preprocess turns it into network input there."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, DistributedSampler

from cnndsl.train.data import DataSet, LazySplit, TensorSplit
from cnndsl.train.errors import DataError

EVAL_BATCH = 256
# In-memory sets whose network input (float32) fits in this are preprocessed once
# (the digits at 28x28: 5.6 MB); larger ones per batch, on the device.
PREPARE_LIMIT = 256 * 2**20


@dataclass
class Preprocess:
    """raw batch -> ((x * scale) resized to `size`, minus mean, over std), on the device."""

    scale: float
    mean: list[float]
    std: list[float]
    size: tuple[int, int]
    channels_last: bool = False

    def to_dict(self) -> dict:
        return {"scale": self.scale, "mean": list(self.mean), "std": list(self.std),
                "size": list(self.size)}

    @classmethod
    def from_dict(cls, data: dict, channels_last: bool = False) -> "Preprocess":
        return cls(float(data["scale"]), list(data["mean"]), list(data["std"]),
                   tuple(data["size"]), channels_last)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float() * self.scale
        if tuple(x.shape[-2:]) != tuple(self.size):
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > self.size[1])
        mean, std = self._stats(x.device)
        x = (x - mean) / std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _stats(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """mean and std as (1, C, 1, 1) tensors on `device`, made once (no copy per batch)."""
        cache = self.__dict__.setdefault("_cache", {})
        if device not in cache:
            cache[device] = tuple(torch.tensor(v, device=device).view(1, -1, 1, 1)
                                  for v in (self.mean, self.std))
        return cache[device]


def shift_table(n: int, size: tuple[int, int], seed: int, epoch: int) -> torch.Tensor | None:
    """Per-sample random shifts (dy, dx) for one epoch, a function of (seed, epoch, index)
    only, so augmentation is the same however the data are sharded."""
    pad = max(1, round(min(size) / 14))  # 2 pixels at 28x28 or 32x32, 16 at 224x224
    g = torch.Generator().manual_seed(seed * 100003 + epoch + 1)
    return torch.randint(-pad, pad + 1, (n, 2), generator=g, dtype=torch.int16)


def shift(x: torch.Tensor, shifts: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
    """Translate each image by its (dy, dx), filling with the edge value (after normalising)."""
    n, _, h, w = x.shape
    shifts = shifts.to(x.device, torch.long)
    rows = (torch.arange(h, device=x.device).view(1, h) - shifts[:, :1]).clamp(0, h - 1)
    cols = (torch.arange(w, device=x.device).view(1, w) - shifts[:, 1:]).clamp(0, w - 1)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    out = x.permute(0, 2, 3, 1)[batch, rows.view(n, h, 1), cols.view(n, 1, w)]
    out = out.permute(0, 3, 1, 2)  # NHWC storage: already channels_last
    return out if channels_last else out.contiguous()


class _Indices:
    """Enough of a Dataset for DistributedSampler: only its length matters."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n


def epoch_batches(n: int, global_batch: int, seed: int, epoch: int, rank: int, world: int
                  ) -> list[torch.Tensor]:
    """This process's index batches for one training epoch."""
    if global_batch % world:
        raise DataError(f"--batch-size {global_batch} must be a multiple of the process count {world}")
    sampler = DistributedSampler(_Indices(n), num_replicas=world, rank=rank, shuffle=True,
                                 seed=seed, drop_last=False)
    sampler.set_epoch(epoch)
    mine = torch.tensor(list(sampler), dtype=torch.long)
    local = global_batch // world
    steps = n // global_batch
    if steps == 0:  # fewer samples than one batch: one batch of everything
        return [mine]
    return [mine[k * local:(k + 1) * local] for k in range(steps)]


class Batches:
    """Iterates (input, label, sample indices) for one split on one process."""

    def __init__(self, split: TensorSplit | LazySplit, device: torch.device, preprocess: Preprocess,
                 rank: int = 0, world: int = 1, workers: int = 0):
        self.split, self.device, self.preprocess = split, device, preprocess
        self.rank, self.world, self.workers = rank, world, workers
        self.prepared = False
        if isinstance(split, TensorSplit):  # keep small sets where they are used
            self.images = split.images.to(device)
            self.labels = split.labels.to(device)
            self.pool = int(self.images.shape[0])
            if self._input_bytes() <= PREPARE_LIMIT:  # resize and normalise once, not per batch
                self.images = torch.cat([preprocess(chunk) for chunk in self.images.split(1024)])
                self.prepared = True

    def _input_bytes(self) -> int:
        n, channels = self.images.shape[:2]
        return int(n) * int(channels) * self.preprocess.size[0] * self.preprocess.size[1] * 4

    def __len__(self) -> int:
        return len(self.split)

    def train(self, global_batch: int, seed: int, epoch: int, augment: bool):
        index_batches = epoch_batches(len(self.split), global_batch, seed, epoch, self.rank, self.world)
        shifts = None
        if augment:
            shifts = shift_table(len(self.split), self.preprocess.size, seed, epoch).to(self.device)
        for idx, x, y in self._fetch(index_batches):
            x = self._input(x)
            if shifts is not None:
                x = shift(x, shifts[idx.to(self.device)], self.preprocess.channels_last)
            yield x, y

    def validation(self, batch: int = EVAL_BATCH):
        n = len(self.split)
        mine = torch.arange(self.rank, n, self.world)  # no padding: every image counted once
        index_batches = [mine[k:k + batch] for k in range(0, len(mine), batch)]
        for _, x, y in self._fetch(index_batches):
            yield self._input(x), y

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        if not self.prepared:
            return self.preprocess(x)
        # a gathered batch is contiguous whatever the source's layout
        return x.contiguous(memory_format=torch.channels_last) if self.preprocess.channels_last else x

    def _fetch(self, index_batches):
        """(indices, raw images, labels) per batch, images and labels on the device."""
        if isinstance(self.split, TensorSplit):
            # one host-to-device copy of the epoch's indices, then slices of it
            sizes = [len(idx) for idx in index_batches]
            for idx in torch.cat(index_batches).to(self.device).split(sizes):
                yield idx, self.images[idx % self.pool], self.labels[idx]
            return
        loader = DataLoader(self.split.dataset, batch_sampler=index_batches,
                            num_workers=self.workers, pin_memory=self.device.type == "cuda",
                            persistent_workers=False)
        try:
            for idx, (x, y) in zip(index_batches, loader):
                yield (idx, x.to(self.device, non_blocking=True),
                       torch.as_tensor(y).to(self.device, non_blocking=True))
        except DataError as exc:
            raise from_worker(exc) from None


def from_worker(exc: DataError) -> DataError:
    """The DataError a DataLoader worker raised, as the worker raised it.

    DataLoader re-raises a worker's exception with the worker's whole traceback
    as its message; the original message and hint are the text after the last
    ``module.DataError: `` in it."""
    marker = f"{DataError.__module__}.{DataError.__qualname__}: "
    text = exc.message
    if "Original Traceback" not in text or marker not in text:
        return exc  # raised in this process: already the user's message
    lines = text.rsplit(marker, 1)[1].strip().splitlines()
    message = lines[0].removeprefix("error: ")
    hints = [line.strip().removeprefix("hint: ") for line in lines[1:]
             if line.strip().startswith("hint: ")]
    return DataError(message, hint=hints[0] if hints else None)


def make_preprocess(data: DataSet, input_shape, channels_last: bool) -> Preprocess:
    return Preprocess(data.scale, data.mean, data.std, tuple(input_shape[1:]), channels_last)
