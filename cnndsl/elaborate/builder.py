"""GraphBuilder: appends IR nodes, infers their shapes, names them, enforces limits."""

from __future__ import annotations

from collections import Counter
from math import prod

from cnndsl.errors import Diagnostic, ShapeError, Span, SpecError
from cnndsl.ir.graph import Node, ScopeFrame, Shape, format_shape, freeze_attrs
from cnndsl.limits import LAYERS, STEPS
from cnndsl.ops.registry import OpDef

# Limits that turn absurd specs into fast, clear errors instead of hangs: the layer
# and statement counts are cnndsl.limits' (docs/limits.md); these two are the
# sizes a tensor can have at all
MAX_DIM = 2 ** 31 - 1
MAX_ELEMENTS = 2 ** 40  # per sample, per tensor

# Ops that are no submodule in PyTorch (a function call in forward): in a numbered
# scope they take no number, so the numbers are nn.Sequential's (merges neither)
UNNUMBERED = frozenset({"flatten"})


class GraphBuilder:
    def __init__(self):
        self.nodes: list[Node] = []
        self.warnings: list[Diagnostic] = []
        self.warning_scopes: dict[int, tuple[ScopeFrame, ...]] = {}  # index -> call chain
        self._counters: dict[str, Counter] = {}
        self._taken: dict[str, set[str]] = {}  # scope -> local names given or reserved
        self._labels: dict[str, dict[str, Span]] = {}  # scope -> label -> where it is used
        self._numbered: set[str] = set()  # scopes whose unlabelled children are 0, 1, ...
        self.steps = 0
        self.max_steps, self.max_nodes = STEPS.value(), LAYERS.value()

    def step(self, span: Span) -> None:
        self.steps += 1
        if self.steps > self.max_steps:
            raise SpecError(f"elaboration stopped after {self.max_steps:,} statements", span,
                            f"a repeat count is far larger than any real network needs; "
                            f"{STEPS.hint()}")

    def open_scope(self, name: str, labels: set[str], numbered: bool = False) -> None:
        """A scope (block call or group) whose statements declare `labels`: automatic
        names in it avoid them; a numbered scope names its unlabelled children 0, 1, ..."""
        self._taken.setdefault(name, set()).update(labels)
        if numbered:
            self._numbered.add(name)

    def local_name(self, prefix: str, base: str, counts: bool = True) -> str:
        """The next automatic name for a `base` (an op or block) in scope `prefix`:
        conv1, conv2, ... (relu6_1, not relu61: a digit-final name keeps its counter
        apart), or 0, 1, ... in a numbered scope (where only what `counts` takes a
        number: a merge is no submodule of nn.Sequential).  Never a name the scope has given
        or reserved: blocks `conv1` and `conv1_` cannot both be `conv1_1`."""
        counter = self._counters.setdefault(prefix, Counter())
        taken = self._taken.setdefault(prefix, set())
        while True:
            if prefix in self._numbered and counts:
                name = str(counter["#"])
                counter["#"] += 1
            else:
                counter[base] += 1
                name = f"{base}_{counter[base]}" if base[-1].isdigit() else \
                    f"{base}{counter[base]}"
            if name not in taken:
                break
        taken.add(name)
        return f"{prefix}.{name}" if prefix else name

    def label_name(self, prefix: str, label, base: str) -> str:
        """The hierarchical name of a labelled layer, call or group (a bare `sequential`
        one gets the automatic name of a `base`); SpecError for a label used twice in
        one scope (at the second, pointing at the first)."""
        if label.name is None:
            return self.local_name(prefix, base)
        labels = self._labels.setdefault(prefix, {})
        first = labels.get(label.name)
        where = f"in {prefix!r}" if prefix else "in the network"
        if first == label.span:
            raise SpecError(f"label {label.name!r} is used by every repetition of a loop {where}",
                            label.span, "names must be unique: label the repeat or loop "
                            "itself (`layer1: sequential repeat ...`) and leave its body's "
                            "statements unlabelled, or put them in a block")
        if first is not None:
            raise SpecError(f"label {label.name!r} is used twice {where}", label.span,
                            "labels name layers, block calls and groups; each must be unique "
                            "in its block or group", notes=((first, "first used here"),))
        labels[label.name] = label.span
        self._taken.setdefault(prefix, set()).add(label.name)
        return f"{prefix}.{label.name}" if prefix else label.name

    def add(self, op: OpDef, attrs: dict, inputs: list[int], span: Span,
            scope: tuple[ScopeFrame, ...], name: str | None = None) -> int:
        in_shapes = [self.nodes[i].shape for i in inputs]
        try:
            attrs, shape = op.infer(attrs, in_shapes)
        except ShapeError as exc:
            raise SpecError(exc.message, span, exc.hint) from None
        _check_size(shape, span)
        for message, hint in op.warnings(attrs, in_shapes, shape):
            self.warning_scopes[len(self.warnings)] = scope
            self.warnings.append(Diagnostic("warning", message, span, hint))
        if len(self.nodes) >= self.max_nodes:
            raise SpecError(f"the network has more than {self.max_nodes:,} layers", span,
                            f"a repeat count is far larger than any real network needs; "
                            f"{LAYERS.hint()}")
        prefix = scope[-1].name if scope else ""
        counts = op.arity != 0 and op.name not in UNNUMBERED
        node = Node(id=len(self.nodes), op=op.name,
                    name=name or self.local_name(prefix, op.name, counts),
                    attrs=freeze_attrs(attrs), inputs=tuple(inputs), shape=shape, span=span,
                    scope=scope)
        self.nodes.append(node)
        return node.id


def _check_size(shape: Shape, span: Span) -> None:
    if max(shape) > MAX_DIM or prod(shape) > MAX_ELEMENTS:
        raise SpecError(f"tensor size {format_shape(shape)} is out of range", span,
                        "sizes this large cannot be computed; check the channel counts")
