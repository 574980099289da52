"""Weight import: map a same-architecture state_dict onto a compiled module.

Names differ between implementations (torchvision's `layer2.0.conv1.weight` is
our `basic4.conv1.weight`) but declaration order does not: generated modules
register parameters in the order the spec declares them, as hand-written
models do.  So both state_dicts are aligned in order, entry by entry, on the
last name part (`weight`, `running_mean`, ...) and the shape; `difflib` finds
the best alignment, so one extra or missing layer shows up as exactly that
instead of shifting every later tensor.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field


@dataclass
class WeightReport:
    """What `load_weights` did: pairs loaded, and everything that did not match."""

    loaded: list[tuple[str, str]] = field(default_factory=list)  # (ours, theirs)
    mismatched: list[tuple[str, tuple, str, tuple]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # ours, with nothing to load
    unexpected: list[str] = field(default_factory=list)  # theirs, with no place

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.unexpected
                    or any(not k.endswith("num_batches_tracked") for k in self.missing))

    def __str__(self) -> str:
        lines = [f"{len(self.loaded)} tensors pair up by declaration order"]
        for ours, our_shape, theirs, their_shape in self.mismatched:
            lines.append(f"  shape mismatch: {ours} {list(our_shape)} <- {theirs} "
                         f"{list(their_shape)}")
        lines += [f"  missing (kept as initialised): {k}" for k in self.missing
                  if not k.endswith("num_batches_tracked")]
        lines += [f"  unexpected (ignored): {k}" for k in self.unexpected]
        return "\n".join(lines)


class WeightMismatchError(ValueError):
    """Raised by load_weights(strict=True); `report` says what did not match."""

    def __init__(self, report: WeightReport):
        super().__init__("the state_dict does not match the compiled module:\n" + str(report))
        self.report = report


def _signature(key: str, tensor) -> tuple:
    return key.rsplit(".", 1)[-1], tuple(tensor.shape)


def align(ours: dict, theirs: dict) -> WeightReport:
    """Pair the entries of two state_dicts by declaration order (see module doc)."""
    our_keys, their_keys = list(ours), list(theirs)
    a = [_signature(k, ours[k]) for k in our_keys]
    b = [_signature(k, theirs[k]) for k in their_keys]
    report = WeightReport()
    if a == b:  # the usual case: same architecture, same order
        report.loaded = list(zip(our_keys, their_keys))
        return report
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            report.loaded += zip(our_keys[i1:i2], their_keys[j1:j2])
            continue
        pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for i, j in zip(range(i1, i1 + pairs), range(j1, j1 + pairs)):
            report.mismatched.append((our_keys[i], a[i][1], their_keys[j], b[j][1]))
        report.missing += our_keys[i1 + pairs:i2]
        report.unexpected += their_keys[j1 + pairs:j2]
    return report


def load_weights(module, state_dict: dict, strict: bool = True,
                 assign: bool = False) -> WeightReport:
    """Copy `state_dict` (e.g. torchvision's `resnet34().state_dict()`) into `module`
    (from `Network.to_torch()` or a generated file), pairing tensors by declaration
    order with shape checks.

    strict=True raises WeightMismatchError (a ValueError) listing every shape
    mismatch, missing and unexpected tensor, and loads nothing; strict=False
    loads the tensors that match and returns the report.  A missing
    `num_batches_tracked` (older checkpoints) is never an error.  assign=True
    hands the tensors over instead of copying them (see nn.Module.load_state_dict),
    for modules built on the meta device.
    """
    report = align(module.state_dict(), state_dict)
    if strict and not report.ok:
        raise WeightMismatchError(report)
    mapped = {ours: state_dict[theirs] for ours, theirs in report.loaded}
    module.load_state_dict(mapped, strict=False, assign=assign)
    return report
