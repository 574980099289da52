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

# Ops that are no submodule in PyTorch (a function call in forward, a parameter of
# the enclosing module): in a numbered scope they take no number, so the numbers are
# nn.Sequential's (merges neither)
UNNUMBERED = frozenset({"flatten", "layer_scale"})


class GraphBuilder:
    def __init__(self):
        self.nodes: list[Node] = []
        self.warnings: list[Diagnostic] = []
        self.warning_scopes: dict[int, tuple[ScopeFrame, ...]] = {}  # index -> call chain
        self._counters: dict[str, Counter] = {}
        self._taken: dict[str, set[str]] = {}  # scope -> local names given or reserved
        self._labels: dict[str, dict[str, Span]] = {}  # scope -> label -> where it is used
        self._numbered: set[str] = set()  # scopes whose unlabelled children are 0, 1, ...
        self._numbers: dict[str, dict[int, Span]] = {}  # numbered scope -> number -> where
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

    def local_name(self, prefix: str, base: str, counts: bool = True,
                   span: Span | None = None) -> str:
        """The next automatic name for a `base` (an op or block) in scope `prefix`:
        conv1, conv2, ... (relu6_1, not relu61: a digit-final name keeps its counter
        apart), or 0, 1, ... in a numbered scope, counting on from the last number
        given (where only what `counts` takes a number: a merge is no submodule of
        nn.Sequential).  Never a name the scope has given
        or reserved: blocks `conv1` and `conv1_` cannot both be `conv1_1`."""
        counter = self._counters.setdefault(prefix, Counter())
        if prefix in self._numbered and counts:
            return self._number(prefix, counter["#"], span, None)
        taken = self._taken.setdefault(prefix, set())
        while True:
            counter[base] += 1
            name = f"{base}_{counter[base]}" if base[-1].isdigit() else \
                f"{base}{counter[base]}"
            if name not in taken:
                break
        taken.add(name)
        return f"{prefix}.{name}" if prefix else name

    def _number(self, prefix: str, number: int, span: Span | None, label) -> str:
        """Number `number` in the numbered scope `prefix`, for a `label` (`2:`) or an
        unlabelled child (None); the next unlabelled child counts on from it, as in a C
        enum.  SpecError for a number given twice (at the second, pointing at the first)."""
        numbers = self._numbers.setdefault(prefix, {})
        first = numbers.get(number)
        where = f"in {prefix!r}" if prefix else "in the network"
        if label is not None and first == label.span:
            raise SpecError(f"label `{number}:` numbers every repetition of a loop {where}",
                            label.span, "number the repeat or loop itself, or leave its "
                            "body's statements unnumbered: they count on by themselves")
        if first is not None:
            what = f"label `{number}:` gives number {number}" if label is not None else \
                f"this unlabelled child counts on to number {number}"
            raise SpecError(f"{what} {where}, which is already taken", label.span if label
                            else span, "an unlabelled child takes the number after the one "
                            "before it (`conv; 2: bn; relu` numbers 0, 2, 3): put numbered "
                            "labels in increasing order, or number this one explicitly",
                            notes=((first, f"number {number} is given here"),))
        numbers[number] = label.span if label is not None else span
        self._counters.setdefault(prefix, Counter())["#"] = number + 1
        return f"{prefix}.{number}" if prefix else str(number)

    def label_name(self, prefix: str, label, base: str) -> str:
        """The hierarchical name of a labelled layer, call or group (a bare `sequential`
        one gets the automatic name of a `base`; a number, `2:`, that number in a
        numbered scope); SpecError for a label used twice in one scope (at the second,
        pointing at the first), or a number outside a numbered scope."""
        if label.name is None:
            return self.local_name(prefix, base, span=label.span)
        if label.number is not None:
            if prefix not in self._numbered:
                where = f"{prefix!r} is" if prefix else "the network is"
                raise SpecError(f"label `{label.number}:` numbers a child of a `sequential` "
                                f"group, and {where} not one", label.span,
                                "number the group's children (`NAME: sequential { ... }`), "
                                "or give this one a name")
            return self._number(prefix, label.number, label.span, label)
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
                    name=name or self.local_name(prefix, op.name, counts, span),
                    attrs=freeze_attrs(attrs), inputs=tuple(inputs), shape=shape, span=span,
                    scope=scope)
        self.nodes.append(node)
        return node.id


def _check_size(shape: Shape, span: Span) -> None:
    if max(shape) > MAX_DIM or prod(shape) > MAX_ELEMENTS:
        raise SpecError(f"tensor size {format_shape(shape)} is out of range", span,
                        "sizes this large cannot be computed; check the channel counts")
