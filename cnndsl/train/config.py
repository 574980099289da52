"""The settings of a training run, their defaults, and how they are stored.

A TrainConfig holds only plain values (str, int, float, bool, None, lists), so it
travels inside a checkpoint that loads with ``torch.load(weights_only=True)``.
``None`` means "choose for me": the choice depends on the device (see
``cnndsl.train.device``) or the optimizer (``DEFAULT_LR``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Mapping

# Defaults chosen so that `cnndsl train specs/lenet5.cnn` reaches >= 98.5% on
# the held-out digits well inside 30 s on a 2-core CPU (docs/performance.md).
DEFAULT_EPOCHS = 10
DEFAULT_BATCH = 64
DEFAULT_LR = {"adamw": 2e-3, "sgd": 0.05}
DEFAULT_WEIGHT_DECAY = {"adamw": 0.01, "sgd": 5e-4}
OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "step", "none")
WARMUP_FRACTION = 0.15  # of all steps, linear warm-up before the cosine decay
# numpy's RandomState takes seeds below 2**32, and torch.Generator overflows on the
# seed * 100003 that augmentation derives from larger ones (cnndsl.train.batches)
MAX_SEED = 2**32 - 1
FLOAT32_MAX = 3.4028234663852886e38
MAX_LR = FLOAT32_MAX / 10

# Options a resumed run may change; every other one must match the checkpoint.
RESUMABLE_OVERRIDES = ("epochs", "device", "out", "workers", "compile", "nproc_per_node",
                       "allow_large", "patience", "log")


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
    aux_weight: dict = field(default_factory=dict)  # output head -> loss weight (the spec's else)
    augment: bool | str | None = None  # a preset of cnndsl.train.augment; None: the data's default
    val_split: float | None = None  # imagefolder: hold out this fraction of one folder
    patience: int | None = None  # stop after this many epochs without a better val accuracy
    log: str | None = None  # "tensorboard": also write TensorBoard scalars (DIR/tensorboard)
    device: str = "auto"
    amp: bool | None = None  # bf16 autocast; None: on for CUDA
    amp_dtype: str = "bf16"
    channels_last: bool | None = None  # None: on for CUDA
    compile: bool | None = None  # torch.compile; None: on for CUDA
    out: str | None = None
    resume: bool = False
    init: str | None = None
    by_order: bool = False  # pair --init's tensors by declaration order, not by name
    freeze: list = field(default_factory=list)
    seed: int = 0
    workers: int | None = None  # DataLoader workers for on-disk data sets
    nproc_per_node: int = 1
    allow_large: bool = False  # beyond the parameter and activation limits (docs/limits.md)
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
        """TrainError for any setting no run can use; checked before anything is loaded."""
        from cnndsl.train.errors import TrainError
        problem = next(self._problems(), None)  # lazily: later checks assume earlier ones passed
        if problem is not None:
            raise TrainError(problem)

    def _problems(self):
        """Each invalid setting, as the message the user sees."""
        for name in ("epochs", "batch_size", "nproc_per_node"):
            if getattr(self, name) < 1:
                yield f"{_option(name)} must be at least 1, got {getattr(self, name)}"
        if self.optimizer not in OPTIMIZERS:
            yield f"unknown optimizer {self.optimizer!r}; choose {', '.join(OPTIMIZERS)}"
        if self.schedule not in SCHEDULES:
            yield f"unknown schedule {self.schedule!r}; choose {', '.join(SCHEDULES)}"
        # written as `not (a <= x)` so that NaN, which compares false, is refused too
        if not 0.0 <= self.label_smoothing < 1.0:
            yield f"--label-smoothing must be in [0, 1), got {self.label_smoothing}"
        # the optimizer computes in float32: 1e300 is finite in Python, not there, and
        # AdamW's first step is lr / (1 - 0.9), its decay 1 - lr * weight_decay
        if not 0 < self.learning_rate <= MAX_LR:
            yield (f"--lr must be a finite positive number in float32 (at most "
                   f"{MAX_LR:.4g}: the optimizer's first step is 10 times it), "
                   f"got {self.learning_rate}")
        elif not 0 <= self.decay <= FLOAT32_MAX:
            yield (f"--weight-decay must be a finite number >= 0 in float32 (at most "
                   f"{FLOAT32_MAX:.4g}), got {self.decay}")
        elif self.learning_rate * self.decay > FLOAT32_MAX:
            yield (f"--lr times --weight-decay is {self.learning_rate * self.decay:.4g}, beyond "
                   f"float32 (the decay multiplies the weights by 1 - lr * weight_decay)")
        if self.workers is not None and self.workers < 0:
            yield f"--workers must be 0 or more, got {self.workers}"
        if not 0 <= self.seed <= MAX_SEED:
            yield f"--seed must be in 0..{MAX_SEED}, got {self.seed}"
        if self.val_split is not None and not 0 < self.val_split < 1:
            yield f"--val-split must be a fraction between 0 and 1, got {self.val_split}"
        if self.patience is not None and self.patience < 1:
            yield f"--patience must be at least 1, got {self.patience}"
        from cnndsl.train.augment import PRESETS
        if isinstance(self.augment, str) and self.augment not in PRESETS:
            yield f"unknown --augment {self.augment!r}; choose {', '.join(PRESETS)}"
        if self.log not in (None, "tensorboard"):
            yield f"unknown --log {self.log!r}; choose tensorboard"
        for name, weight in self.aux_weight.items():
            if not isinstance(name, str) or isinstance(weight, bool) \
                    or not isinstance(weight, (int, float)) or not 0 <= weight <= FLOAT32_MAX:
                yield (f"--aux-weight {name}={weight}: a head's loss weight must be a finite "
                       f"number >= 0")
        if self.amp_dtype not in ("bf16", "fp16"):
            yield f"--amp-dtype must be bf16 or fp16, got {self.amp_dtype!r}"


def config_problems(data: Mapping):
    """Each way a stored config (a checkpoint's "config") differs from one that
    TrainConfig.to_dict() writes: a value of the wrong type, or an invalid
    setting; checked before any of it is used."""
    fields = {f.name: f.type for f in dataclasses.fields(TrainConfig)}
    wrong = [f"{name} is {value!r}" for name, value in data.items()
             if name in fields and not _has_type(value, fields[name])]
    if not isinstance(data.get("spec"), str):
        wrong.insert(0, "it names no spec")
    yield from wrong
    if not wrong:
        from cnndsl.errors import SpecError
        try:
            TrainConfig.from_dict(dict(data)).validate()
        except SpecError as exc:
            yield exc.message


_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "list": (list,),
          "dict": (dict,), "None": (type(None),)}


def _has_type(value, annotation: str) -> bool:
    """Whether `value` fits a field annotation such as "float | None"."""
    for name in annotation.split(" | "):
        kinds = _TYPES.get(name.strip(), ())
        if isinstance(value, bool) and bool not in kinds:
            continue  # True is an int to Python, not to a config
        if isinstance(value, kinds):
            return True
    return False


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")
