"""What turns an image into network input, and where it is recorded.

An image becomes input as ``(pixels * scale - mean) / std`` per channel, after
it is resized (bilinear) to the network's H x W; the layout is NCHW, channels
grey (1) or RGB (3).  Training records this in its checkpoint ("preprocess",
"classes"); an ONNX export copies it into ``metadata_props`` under the keys of
METADATA (docs/onnx.md), so the graph can be used without the checkpoint.
Torch-free."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from cnndsl.errors import SpecError

IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
LAYOUT = "NCHW"
PREFIX = "cnndsl.preprocess."


@dataclass
class Preprocessing:
    """Resize to `size`, multiply by `scale`, subtract `mean`, divide by `std`."""

    channels: int
    size: tuple[int, int]
    scale: float = 1.0 / 255.0
    mean: list[float] = field(default_factory=lambda: [0.0])
    std: list[float] = field(default_factory=lambda: [1.0])
    classes: list[str] = field(default_factory=list)
    baked: bool = False  # an ONNX graph that applies scale, mean and std itself

    def per_channel(self) -> tuple[list[float], list[float]]:
        """mean and std with one value for each channel (a single value is repeated)."""
        return ([*self.mean] * self.channels if len(self.mean) == 1 else list(self.mean),
                [*self.std] * self.channels if len(self.std) == 1 else list(self.std))

    def to_metadata(self) -> dict[str, str]:
        """The ONNX metadata_props entries (strings) that describe it."""
        mean, std = self.per_channel()
        return {PREFIX + key: value for key, value in {
            "layout": LAYOUT,
            "channels": "RGB" if self.channels == 3 else "grey" if self.channels == 1
                        else str(self.channels),
            "size": f"{self.size[0]}x{self.size[1]}",
            "pixel_scale": repr(float(self.scale)),
            "mean": ",".join(repr(float(m)) for m in mean),
            "std": ",".join(repr(float(s)) for s in std),
            "in_graph": str(self.baked).lower(),
            "classes": json.dumps(list(self.classes), ensure_ascii=False),
        }.items()}

    @classmethod
    def from_metadata(cls, props: dict[str, str], where: str) -> "Preprocessing | None":
        """The preprocessing an ONNX file records; None when it records none."""
        if PREFIX + "pixel_scale" not in props:
            return None
        try:
            height, width = (int(v) for v in props[PREFIX + "size"].split("x"))
            channels = {"RGB": 3, "grey": 1}.get(props[PREFIX + "channels"])
            return cls(channels or int(props[PREFIX + "channels"]), (height, width),
                       float(props[PREFIX + "pixel_scale"]),
                       [float(v) for v in props[PREFIX + "mean"].split(",")],
                       [float(v) for v in props[PREFIX + "std"].split(",")],
                       [str(c) for c in json.loads(props.get(PREFIX + "classes", "[]"))],
                       props.get(PREFIX + "in_graph") == "true")
        except (KeyError, ValueError, TypeError) as exc:
            raise SpecError(f"{where}: its cnndsl preprocessing metadata is malformed ({exc})",
                            hint="export it again with cnndsl build") from None

    @classmethod
    def from_checkpoint(cls, saved: dict, channels: int, size: tuple[int, int]) -> "Preprocessing":
        """What `cnndsl train` recorded: its "preprocess" entry and class names."""
        stats = saved.get("preprocess") or {}
        return cls(channels, size, float(stats.get("scale", 1 / 255)),
                   list(stats.get("mean", [0.0])), list(stats.get("std", [1.0])),
                   list(saved.get("classes") or []))


def parse_normalize(text: str, channels: int) -> tuple[list[float], list[float]]:
    """--normalize imagenet | MEAN,STD | M1,..,MC,S1,..,SC (pixels scaled to 0..1 first)."""
    if text.strip().lower() == "imagenet":
        if channels != 3:
            raise SpecError(f"--normalize imagenet is for RGB input; the network takes "
                            f"{channels} channel{'s' * (channels != 1)}")
        return list(IMAGENET[0]), list(IMAGENET[1])
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (2, 2 * channels) or any(v <= 0 for v in values[len(values) // 2:]):
        raise SpecError(f"--normalize expects imagenet, MEAN,STD or {channels} means then "
                        f"{channels} standard deviations (all > 0), got {text!r}")
    half = len(values) // 2
    return values[:half], values[half:]


def read_classes(path: str, count: int) -> list[str]:
    """--classes FILE: one class name a line, as many as the network has outputs."""
    from pathlib import Path
    try:
        names = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read --classes file {path}: {exc}") from None
    if len(names) != count:
        raise SpecError(f"--classes file {path} names {len(names)} classes, the network has "
                        f"{count} outputs", hint="one class name a line, in output order")
    return names
