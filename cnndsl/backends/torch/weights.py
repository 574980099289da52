"""Weight import: map a same-architecture state_dict onto a compiled module.

Tensors pair by name: a spec labelled as its reference is (the zoo's ResNets
are torchvision's `layer2.0.conv1`) loads a state_dict key for key.  Pairing by
declaration order is for weights named another way (an unlabelled spec's
`basic4.conv1.weight`, or a checkpoint written before the zoo's labels), and
only when asked for (`by_order=True`, `--by-order`): names that differ are
then paired by where they stand, and a name that does not fit is an error whose
hint says whether declaration order would pair everything.

Declaration order: generated modules register parameters in the order the spec
declares them, as hand-written models do.  So both state_dicts are aligned in
order, entry by entry, on the
last name part (`weight`, `running_mean`, ...) and the shape; `difflib` finds
the best alignment, so one extra or missing layer shows up as exactly that
instead of shifting every later tensor.

Two differences between implementations of one architecture are bridged, and
reported: a layer written as `nn.Linear` on channels-last tensors where the spec
says a 1x1 convolution (ConvNeXt's MLP) holds the same weights as an out x in
matrix instead of out x in x 1 x 1, so shapes are compared without trailing 1s
and the tensor is reshaped; and a tensor a module registers on itself (ConvNeXt's
`layer_scale`, in torchvision and in cnndsl's generated code) comes before its
submodules' in PyTorch's state_dict whatever the order of use, where one held by a
submodule (a `LayerScale` module's `gamma`, cnndsl's before layer scale became a
parameter) comes after them, so such tensors may also pair at the end of their
module, on either side.
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
    reshaped: list[tuple[str, tuple, str, tuple]] = field(default_factory=list)
    reordered: list[tuple[str, str]] = field(default_factory=list)  # (ours, theirs)
    moved: list[tuple[str, str]] = field(default_factory=list)  # (ours, theirs)
    pairing: str = "name"  # "name", or "declaration order" (by_order=True)
    hint: str | None = None  # for names that do not fit: what would load them

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.unexpected
                    or any(not k.endswith("num_batches_tracked") for k in self.missing))

    def __str__(self) -> str:
        lines = [f"{len(self.loaded)} tensors pair up by {self.pairing}"]
        if self.reshaped:
            lines.append(f"  {len(self.reshaped)} reshaped, the same weights (an nn.Linear on "
                         f"channels-last maps is a 1x1 convolution):")
            lines += [f"    {ours} {list(our_shape)} <- {theirs} {list(their_shape)}"
                      for ours, our_shape, theirs, their_shape in self.reshaped]
        if self.reordered:
            lines.append(f"  {len(self.reordered)} reordered (a tensor a module holds itself "
                         f"comes before its layers in a state_dict, one a submodule holds "
                         f"after them):")
            lines += [f"    {ours} <- {theirs}" for ours, theirs in self.reordered]
        if self.moved:
            lines.append(f"  {len(self.moved)} paired out of order (modules declared elsewhere, "
                         f"e.g. auxiliary heads registered after the main path):")
            lines += [f"    {ours} <- {theirs}" for ours, theirs in self.moved]
        for ours, our_shape, theirs, their_shape in self.mismatched:
            lines.append(f"  shape mismatch: {ours} {list(our_shape)} <- {theirs} "
                         f"{list(their_shape)}")
        lines += [f"  missing (kept as initialised): {k}" for k in self.missing
                  if not k.endswith("num_batches_tracked")]
        lines += [f"  unexpected (ignored): {k}" for k in self.unexpected]
        if self.hint and not self.ok:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


class WeightMismatchError(ValueError):
    """Raised by load_weights(strict=True); `report` says what did not match."""

    def __init__(self, report: WeightReport):
        super().__init__("the state_dict does not match the compiled module:\n" + str(report))
        self.report = report


_KINDS = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}


def _signature(key: str, tensor) -> tuple:
    """(kind, shape without trailing 1s): `weight`, `bias` and batch-norm statistics by
    name; any other tensor (`layer_scale`, `gamma`: a module's own) as a parameter."""
    leaf = key.rsplit(".", 1)[-1]
    shape = tuple(tensor.shape)
    while len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    return leaf if leaf in _KINDS else "parameter", shape


def _own_tensors_last(keys: list[str]) -> tuple[list[str], set[str]]:
    """`keys` with each tensor a module registers on itself (`features.1.0.layer_scale`
    before `features.1.0.block.0.weight`) moved after that module's other entries."""
    moved, order = set(), list(keys)
    for key in keys:
        module = key.rpartition(".")[0] + "."
        if module != "." and "." not in key[len(module):]:
            later = [k for k in order[order.index(key) + 1:] if k.startswith(module)]
            if later and all("." in k[len(module):] for k in later):
                order.remove(key)
                order.insert(order.index(later[-1]) + 1, key)
                moved.add(key)
    return order, moved


def align(ours: dict, theirs: dict) -> WeightReport:
    """Pair the entries of two state_dicts by declaration order (see module doc)."""
    our_keys, their_keys = list(ours), list(theirs)
    report = _align(ours, our_keys, theirs, their_keys)
    if not report.ok:  # own tensors last on both sides: a layer scale held either way
        (our_order, our_moved), (their_order, their_moved) = (_own_tensors_last(our_keys),
                                                              _own_tensors_last(their_keys))
        if our_moved or their_moved:
            other = _align(ours, our_order, theirs, their_order)
            if len(other.loaded) > len(report.loaded):
                report = other
                report.reordered = [(o, t) for o, t in report.loaded
                                    if o in our_moved or t in their_moved]
    if not report.ok:
        moved = _align_modules(ours, theirs)
        report = moved if moved is not None else report
    report.reshaped = _reshaped(report.loaded, ours, theirs)
    return report


def _align_modules(ours: dict, theirs: dict) -> WeightReport | None:
    """Align whole top-level modules instead of tensors, pairing the modules left over
    on both sides by their tensors' signatures: the same modules declared at another
    place (torchvision registers GoogLeNet's aux1 and aux2 after inception5b; a spec
    writes each head where it branches off, after 4a and 4d).  None unless every tensor
    pairs up."""
    a, b = _modules(ours), _modules(theirs)
    sig = lambda state, keys: tuple(_signature(k, state[k]) for k in keys)  # noqa: E731
    a_sig, b_sig = [sig(ours, g) for g in a], [sig(theirs, g) for g in b]
    matcher = difflib.SequenceMatcher(None, a_sig, b_sig, autojunk=False)
    report, left_a, left_b = WeightReport(), [], []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            report.loaded += [p for i, j in zip(range(i1, i2), range(j1, j2))
                              for p in zip(a[i], b[j])]
        else:
            left_a += range(i1, i2)
            left_b += range(j1, j2)
    for i in left_a:
        j = next((j for j in left_b if b_sig[j] == a_sig[i]), None)
        if j is None:
            return None
        left_b.remove(j)
        report.moved += zip(a[i], b[j])
    if left_b:
        return None
    report.loaded += report.moved
    return report


def _modules(state: dict) -> list[list[str]]:
    """The keys of a state_dict in runs of one top-level module (`aux1.`, `fc.`)."""
    groups: list[list[str]] = []
    for key in state:
        top = key.split(".", 1)[0]
        if groups and groups[-1][0].split(".", 1)[0] == top:
            groups[-1].append(key)
        else:
            groups.append([key])
    return groups


def _align(ours: dict, our_keys: list[str], theirs: dict,
           their_keys: list[str]) -> WeightReport:
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
            report.mismatched.append((our_keys[i], tuple(ours[our_keys[i]].shape),
                                      their_keys[j], tuple(theirs[their_keys[j]].shape)))
        report.missing += our_keys[i1 + pairs:i2]
        report.unexpected += their_keys[j1 + pairs:j2]
    return report


def _reshaped(loaded: list[tuple[str, str]], ours: dict, theirs: dict) -> list[tuple]:
    """The loaded pairs whose shapes differ (only by trailing 1s: _signature matched them)."""
    return [(o, tuple(ours[o].shape), t, tuple(theirs[t].shape))
            for o, t in loaded if tuple(ours[o].shape) != tuple(theirs[t].shape)]


def by_name(ours: dict, theirs: dict) -> WeightReport:
    """Pair the entries of two state_dicts by key, shapes checked (up to trailing 1s:
    an nn.Linear's weight for a 1x1 convolution's).  When names do not fit, the
    report's hint says whether declaration order would pair every tensor."""
    report = WeightReport()
    for key, tensor in ours.items():
        if key not in theirs:
            report.missing.append(key)
        elif _signature(key, tensor) != _signature(key, theirs[key]):
            report.mismatched.append((key, tuple(tensor.shape), key, tuple(theirs[key].shape)))
        else:
            report.loaded.append((key, key))
    report.unexpected = [k for k in theirs if k not in ours]
    report.reshaped = _reshaped(report.loaded, ours, theirs)
    if not report.ok and (report.missing or report.unexpected):
        ordered = align(ours, theirs)
        if ordered.ok:
            report.hint = (f"the names differ, and declaration order pairs all "
                           f"{len(ordered.loaded)} tensors (weights named before the zoo's "
                           f"specs took torchvision's names, or named by another "
                           f"implementation): pass by_order=True (--by-order) to pair by order")
        else:
            report.hint = ("the names differ, and declaration order does not pair them "
                           "either: is it the same architecture?")
    return report


def load_weights(module, state_dict: dict, strict: bool = True,
                 assign: bool = False, by_order: bool = False) -> WeightReport:
    """Copy `state_dict` (e.g. torchvision's `resnet34().state_dict()`) into `module`
    (from `Network.to_torch()` or a generated file), pairing tensors by name, or
    with by_order=True by declaration order, with shape checks; report.pairing
    says which, report.reshaped and report.reordered say where an nn.Linear
    weight became a 1x1 convolution's or a module's own tensor (a layer scale)
    paired after its layers (see the module doc).

    strict=True raises WeightMismatchError (a ValueError) listing every shape
    mismatch, missing and unexpected tensor, and loads nothing; strict=False
    loads the tensors that match and returns the report.  A missing
    `num_batches_tracked` (older checkpoints) is never an error.  assign=True
    hands the tensors over instead of copying them (see nn.Module.load_state_dict),
    for modules built on the meta device.
    """
    ours = module.state_dict()
    report = align(ours, state_dict) if by_order else by_name(ours, state_dict)
    if by_order:
        report.pairing = "declaration order"
    if strict and not report.ok:
        raise WeightMismatchError(report)
    mapped = {o: state_dict[t].reshape(ours[o].shape) for o, t in report.loaded}
    module.load_state_dict(mapped, strict=False, assign=assign)
    return report
