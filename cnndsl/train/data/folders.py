"""`imagefolder:PATH`: torchvision's layout, PATH/train/CLASS/*.png and PATH/val/CLASS/*,
or one folder of PATH/CLASS/* split by --val-split.

Classes are the sub-folder names of PATH/train, sorted; PATH/val must use the
same names (it may lack some).  With --val-split F, PATH/CLASS/* (or
PATH/train/CLASS/* when there is no PATH/val) is split: F of every class's
images, drawn by the run's --seed, are held out (stratified; split.py).  Images are read lazily by DataLoader workers,
resized to the spec's H x W, and kept as uint8 until they reach the device."""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

from cnndsl.limits import IMAGE_PIXELS
from cnndsl.train.data import DataSet, LazySplit, source
from cnndsl.train.errors import DataError

EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
LAYOUT = "PATH/train/CLASS/IMAGE and PATH/val/CLASS/IMAGE"
GREY_MODES = ("1", "L", "F")  # and the wide integer modes, see _wide


@source("imagefolder", needs_argument=True, describe=f"imagefolder:PATH, {LAYOUT}")
def load(arg, input_shape, classes, seed, val_split: float | None = None) -> DataSet:
    root = Path(arg)
    if not root.is_dir():
        problem = "is a file, not a folder" if root.exists() else "does not exist"
        raise DataError(f"image folder {root} {problem}", hint=f"expected {LAYOUT}")
    if val_split is not None:
        names, train, val = _split_folder(root, val_split, seed)
    else:
        names, train, val = _train_and_val(root)
    if len(input_shape) != 3:
        raise DataError(f"image data needs an image input CxHxW, the spec takes {input_shape}")
    channels = _channels(train[0][0])
    size = tuple(input_shape[1:])
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if channels == 3 else ([0.5], [0.5])
    return DataSet(f"imagefolder:{arg}", LazySplit(ImageFiles(train, channels, size)),
                   LazySplit(ImageFiles(val, channels, size)), names, channels=channels,
                   mean=mean, std=std)


def _train_and_val(root: Path):
    """(class names, train samples, val samples) of PATH/train and PATH/val."""
    train_dir, val_dir = root / "train", root / "val"
    for needed in (train_dir, val_dir):
        if not needed.is_dir():
            single = not (root / "train").is_dir() and _class_folders(root)
            raise DataError(f"{root} has no {needed.name}/ sub-folder",
                            hint="to hold out part of one folder of class folders, add "
                                 "--val-split 0.2" if single else f"expected {LAYOUT}")
    names = _class_folders(train_dir)
    if not names:
        raise DataError(f"{train_dir} has no class sub-folders", hint=f"expected {LAYOUT}")
    index = {name: k for k, name in enumerate(names)}
    return names, _samples(train_dir, index), _samples(val_dir, index)


def _split_folder(root: Path, fraction: float, seed: int):
    """(class names, train, val): `fraction` of each class of one folder held out."""
    from cnndsl.train.data.split import stratified
    if (root / "train").is_dir() and (root / "val").is_dir():
        raise DataError(f"{root} is already split into train/ and val/; --val-split splits "
                        f"one folder of class folders", hint="leave out --val-split")
    folder = root / "train" if (root / "train").is_dir() else root
    names = _class_folders(folder)
    if not names:
        raise DataError(f"{folder} has no class sub-folders",
                        hint="expected PATH/CLASS/IMAGE with --val-split")
    samples = _samples(folder, {name: k for k, name in enumerate(names)})
    train_idx, val_idx = stratified([label for _, label in samples], fraction, seed, folder)
    return names, [samples[i] for i in train_idx], [samples[i] for i in val_idx]


def _class_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in _visible(folder.iterdir()) if p.is_dir())


def _samples(folder: Path, index: dict[str, int]) -> list[tuple[str, int]]:
    samples = []
    for sub in sorted(p for p in _visible(folder.iterdir()) if p.is_dir()):
        if sub.name not in index:
            raise DataError(f"{sub} is a class that {folder.parent / 'train'} does not have",
                            hint="val/ must use the class folder names of train/")
        files = (f for f in sub.rglob("*") if not _hidden(f.relative_to(sub)))
        samples += [(str(f), index[sub.name]) for f in sorted(files)  # a FIFO would block
                    if f.suffix.lower() in EXTENSIONS and f.is_file()]
    if not samples:
        raise DataError(f"{folder} holds no images ({', '.join(EXTENSIONS)}) in class sub-folders",
                        hint=f"expected {LAYOUT}")
    return samples


def _visible(paths):
    """Skip hidden entries (.ipynb_checkpoints/, .DS_Store): they are no classes or images."""
    return (p for p in paths if not p.name.startswith("."))


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


@contextlib.contextmanager
def open_image(path: str):
    """PIL's Image.open, refusing an image of more pixels than IMAGE_PIXELS
    (docs/limits.md) before it is decoded: a decompression bomb (a tiny PNG of
    50,000 x 50,000 pixels) is a DataError naming the file, like any bad file."""
    from PIL import Image
    Image.MAX_IMAGE_PIXELS = IMAGE_PIXELS.value()  # PIL checks it as the file opens
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                yield image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(f"image {path} is too large to decode: {IMAGE_PIXELS.what} more than "
                        f"{IMAGE_PIXELS.value():,} pixels", hint=IMAGE_PIXELS.hint()) from None
    except DataError:
        raise
    except Exception as exc:  # PIL raises many kinds (OSError, ValueError, ...) for a bad file
        raise DataError(f"cannot read image {path}: {exc}") from None


def _channels(path: str) -> int:
    with open_image(path) as image:
        return 1 if image.mode in GREY_MODES or _wide(image.mode) else 3


def _wide(mode: str) -> bool:
    """32-bit integer or 16-bit grey ("I", "I;16", "I;16B", ...), as 16-bit PNGs and TIFFs open."""
    return mode == "I" or mode.startswith("I;16")


class ImageFiles:
    """A torch-style Dataset: (uint8 tensor C x H x W resized to `size`, label)."""

    def __init__(self, samples: list[tuple[str, int]], channels: int, size: tuple[int, int]):
        self.samples, self.channels, self.size = samples, channels, size

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        import torch
        path, label = self.samples[i]
        with open_image(path) as image:
            array = self._pixels(image)
        tensor = torch.from_numpy(array.copy())
        tensor = tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1)
        return tensor.contiguous(), label

    def _pixels(self, image):
        """uint8 H x W (grey) or H x W x 3 array at `size`."""
        import numpy as np
        from PIL import Image
        size = (self.size[1], self.size[0])
        if _wide(image.mode):
            # convert("L") would clip 16-bit values to 0 or 255: resize in float, then
            # map 0..65535 onto 0..255 (65535 / 257 = 255)
            wide = np.asarray(image.convert("F").resize(size, Image.BILINEAR))
            grey = np.clip(np.rint(wide / 257.0), 0, 255).astype(np.uint8)
            return grey if self.channels == 1 else np.repeat(grey[:, :, None], 3, axis=2)
        image = image.convert("L" if self.channels == 1 else "RGB").resize(size, Image.BILINEAR)
        return np.asarray(image, dtype=np.uint8)

    @property
    def labels(self):
        import torch
        return torch.tensor([label for _, label in self.samples])
