"""The settings of a training run, their defaults, and how they are stored.

A TrainConfig holds only plain values (str, int, float, bool, None, lists), so it
travels inside a checkpoint that loads with ``torch.load(weights_only=True)``.
``None`` means "choose for me": the choice depends on the device (see
``cnndsl.train.device``) or the optimizer (``DEFAULT_LR``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

# Defaults chosen so that `cnndsl train specs/lenet5.cnn` reaches >= 98.5% on
# the held-out digits well inside 30 s on a 2-core CPU (docs/performance.md).
DEFAULT_EPOCHS = 10
DEFAULT_BATCH = 64
DEFAULT_LR = {"adamw": 2e-3, "sgd": 0.05}
DEFAULT_WEIGHT_DECAY = {"adamw": 0.01, "sgd": 5e-4}
OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "step", "none")
WARMUP_FRACTION = 0.15  # of all steps, linear warm-up before the cosine decay

# Options a resumed run may change; every other one must match the checkpoint.
RESUMABLE_OVERRIDES = ("epochs", "device", "out", "workers", "compile", "nproc_per_node")


@dataclass
class TrainConfig:
    spec: str
    data: str = "digits"
    input: str | None = None  # override the spec's input size, e.g. "1x32x32"
    set: dict = field(default_factory=dict)  # network parameters, e.g. {"classes": 10}
    epochs: int = DEFAULT_EPOCHS
    batch_size: int = DEFAULT_BATCH  # global: split across DDP processes
    lr: float | None = None
    optimizer: str = "adamw"
    schedule: str = "cosine"
    weight_decay: float | None = None
    label_smoothing: float = 0.1
    augment: bool | None = None  # random shifts of up to 1/14 of the size; None: on
    device: str = "auto"
    amp: bool | None = None  # bf16 autocast; None: on for CUDA
    amp_dtype: str = "bf16"
    channels_last: bool | None = None  # None: on for CUDA
    compile: bool | None = None  # torch.compile; None: on for CUDA
    out: str | None = None
    resume: bool = False
    init: str | None = None
    freeze: list = field(default_factory=list)
    seed: int = 0
    workers: int | None = None  # DataLoader workers for on-disk data sets
    nproc_per_node: int = 1
    given: list = field(default_factory=list)  # options set on the command line (for --resume)

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    @property
    def decay(self) -> float:
        return (self.weight_decay if self.weight_decay is not None
                else DEFAULT_WEIGHT_DECAY[self.optimizer])

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def validate(self) -> None:
        from cnndsl.train.errors import TrainError
        if self.epochs < 1:
            raise TrainError(f"--epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise TrainError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.optimizer not in OPTIMIZERS:
            raise TrainError(f"unknown optimizer {self.optimizer!r}; choose {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise TrainError(f"unknown schedule {self.schedule!r}; choose {', '.join(SCHEDULES)}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise TrainError(f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.learning_rate <= 0:
            raise TrainError(f"--lr must be positive, got {self.learning_rate}")
        if self.nproc_per_node < 1:
            raise TrainError(f"--nproc-per-node must be at least 1, got {self.nproc_per_node}")
        if self.amp_dtype not in ("bf16", "fp16"):
            raise TrainError(f"--amp-dtype must be bf16 or fp16, got {self.amp_dtype!r}")
