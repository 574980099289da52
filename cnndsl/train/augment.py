"""--augment: training-time augmentation presets, and each data set's default.

| preset     | what each training image gets                                        |
|------------|----------------------------------------------------------------------|
| `none`     | nothing                                                              |
| `shift`    | a random shift of up to 1/14 of its size, edges repeated (batches.py) |
| `cifar`    | zero-padded by 1/8 of its size, a random crop back, a random flip    |
| `imagenet` | a random-resized crop (8-100% of the area, aspect 3/4-4/3), a flip  |

`cifar` and `imagenet` are torchvision.transforms.v2 (RandomCrop,
RandomResizedCrop, RandomHorizontalFlip), applied per image on the device
after normalisation (so padding is the mean colour), drawn from torch's
generator, which --seed seeds.  `shift` is drawn from (seed, epoch, index)
alone, so it is the same for any number of DDP processes."""

from __future__ import annotations

PRESETS = ("none", "shift", "cifar", "imagenet")
# data source -> preset when --augment is not given: handwriting must not be
# mirrored (shift); photos get the usual recipes of their data sets
DEFAULTS = {"digits": "shift", "mnist": "shift", "synthetic": "shift", "cifar10": "cifar",
            "imagefolder": "imagenet"}


def preset(augment, source: str) -> str:
    """The preset a run uses: --augment, the old on/off (on meant shift), or the
    default of the data source (its name before the colon)."""
    if augment is True:
        return "shift"
    if augment is False:
        return "none"
    if augment is None:
        return DEFAULTS.get(source.partition(":")[0].strip().lower(), "shift")
    return augment


def transform(name: str, size: tuple[int, int]):
    """The torchvision.transforms.v2 pipeline of a per-image preset; None for
    `none` and `shift` (which Batches applies itself)."""
    if name in ("none", "shift"):
        return None
    from torchvision.transforms import v2
    if name == "cifar":
        pad = max(1, round(min(size) / 8))  # 4 pixels at 32x32, as in the ResNet paper's CIFAR runs
        return v2.Compose([v2.RandomCrop(size, padding=pad), v2.RandomHorizontalFlip()])
    return v2.Compose([v2.RandomResizedCrop(size, scale=(0.08, 1.0), antialias=True),
                       v2.RandomHorizontalFlip()])


class Augmented:
    """Training batches with a per-image preset applied; validation untouched.
    Wraps a cnndsl.train.batches.Batches, so the batching path stays one."""

    def __init__(self, batches, pipeline):
        self.batches, self.pipeline = batches, pipeline

    def __len__(self) -> int:
        return len(self.batches)

    def train(self, global_batch: int, seed: int, epoch: int, augment):
        import torch
        for x, y in self.batches.train(global_batch, seed, epoch, False):
            yield torch.stack([self.pipeline(image) for image in x]), y

    def validation(self, *args, **kwargs):
        return self.batches.validation(*args, **kwargs)


def apply(batches, name: str, size: tuple[int, int]):
    """`batches` with preset `name`, and the value to pass as Batches.train's
    `augment` flag (True only for shift)."""
    pipeline = transform(name, size)
    return (Augmented(batches, pipeline) if pipeline is not None else batches), name == "shift"
