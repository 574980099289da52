"""Image files and folders -> float32 arrays (C x H x W raw pixel values) at the
network's input size, resized as training's data pipeline does (bilinear,
align-corners off; done in floating point, so no rounding to 0..255 between)."""

from __future__ import annotations

from pathlib import Path

from cnndsl.errors import SpecError


def image_files(inputs: list[str]) -> list[Path]:
    """Each INPUT that is a file, and the images inside each INPUT folder (sorted,
    recursively, hidden entries skipped)."""
    from cnndsl.train.data.folders import EXTENSIONS
    found: list[Path] = []
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file()
                            and p.suffix.lower() in EXTENSIONS
                            and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not inside:
                raise SpecError(f"folder {path} holds no images ({', '.join(EXTENSIONS)})")
            found += inside
        elif path.is_file():
            found.append(path)
        else:
            raise SpecError(f"input image {path} does not exist")
    return found


def read_image(path: Path, channels: int, size: tuple[int, int]):
    """float32 array (channels, H, W) of pixel values, resized to `size`."""
    import numpy as np
    from PIL import Image

    from cnndsl.train.data.folders import open_image
    from cnndsl.train.errors import DataError
    try:
        with open_image(str(path)) as image:
            image.load()
            bands = ([image.convert("F")] if channels == 1 and _grey(image.mode)
                     else [band.convert("F") for band in image.convert(
                         "L" if channels == 1 else "RGB").split()])
    except DataError as exc:
        raise SpecError(exc.message) from None
    if len(bands) != channels:
        raise SpecError(f"{path}: the network takes {channels}-channel input")
    target = (size[1], size[0])
    planes = [np.asarray(b.resize(target, Image.BILINEAR) if b.size != target else b,
                         dtype=np.float32) for b in bands]
    if image.mode == "I" or image.mode.startswith("I;16"):
        planes = [p / 257.0 for p in planes]  # 16-bit grey onto 0..255, as training reads it
    return np.stack(planes)


def _grey(mode: str) -> bool:
    return mode in ("1", "L", "F", "I") or mode.startswith("I;16")
