"""Recover the block structure from the flat IR: one `Instance` per block call
(from the nodes' scope frames), grouped into `Variant`s, one generated class each:
the calls of one block definition.

Calls of one block can build different layers (`basic(64)` has an identity
shortcut, `basic(128, stride=2)` a projection; MobileNetV2's `inverted(t=1)` no
expansion conv): a call whose layers embed in another's is the same structure
with optional submodules (placeholders where it lacks them), and one whose layers
differ otherwise is another structure of the same class.  params.py then decides
each class's constructor parameters.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from cnndsl.backends.torch import names
from cnndsl.backends.torch.emitters import OMITTED_DEFAULTS, EmitContext, emit
from cnndsl.errors import SpecError
from cnndsl.ir.graph import HEAD_BLOCK, Graph, ScopeFrame


@dataclass
class Item:
    """One line of a class's __init__ (a submodule) and of its forward."""

    attr: str | None  # submodule attribute; None for inline ops (add, concat, flatten)
    callee: str | None
    args: list[tuple]  # (keyword or None, value)
    call: str  # forward template: {self}, {0}, {1}, ...
    inputs: tuple[int, ...]  # node ids read
    output: int  # node id produced
    child: "Instance | None" = None
    absent: bool = False  # a placeholder: this call lacks the class's optional submodule
    passes: int = 0  # an optional merge's input that stands for its result where it is absent
    init: str | None = None  # a parameter's constructor template (Emission.init)
    knobs: dict[int, str] = field(default_factory=dict)  # argument -> network parameter (knobs.py)


@dataclass
class Instance:
    """The network itself (frame None) or one block call."""

    frame: ScopeFrame | None
    attr: str
    items: list[Item] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)  # node ids from outside, in first-use order
    output: int = 0
    variant: "Variant | None" = None
    nodes: set[int] = field(default_factory=set)
    input_channels: int | None = None  # channels (or features) of the first input
    channels_knob: str | None = None  # the network parameter they follow (knobs.py)
    knobs: list[tuple[str, object]] = field(default_factory=list)  # the network's: knobs.py


@dataclass
class Param:
    name: str
    values: list  # one per instance
    flag: bool = False  # `downsample=False`: whether the optional submodule of that name exists
    default: object = None  # the spec's literal default (`stride = 1`), if has_default
    has_default: bool = False
    # per call: the network parameter (knobs.py) its value is, which the class must take
    # as an argument even where its calls agree (None: a value of that call alone)
    knobs: tuple = ()

    @property
    def keyword(self) -> bool:
        """Callers pass it by keyword (`stride=2`), and leave it out at its default."""
        return self.flag or self.has_default

    @property
    def default_source(self) -> str:
        """A keyword parameter's default as source: the spec's, or False for a flag."""
        return names.literal(self.default if self.has_default else False)

    @property
    def declaration(self) -> str:
        """How the constructor's signature lists it: `c`, `stride=1`, `downsample=False`."""
        return f"{self.name}={self.default_source}" if self.keyword else self.name


@dataclass
class Variant:
    """One generated class: the block calls that share a structure."""

    block: str | None  # None for the network class
    key: tuple
    class_name: str = ""
    index: int = 1  # 1 for a block's first variant
    instances: list[Instance] = field(default_factory=list)
    params: list[Param] | None = None
    # per item, per argument: Python source (a literal or a parameter expression)
    exprs: list[list[str]] = field(default_factory=list)
    template: "Instance | None" = None  # the call with every submodule (optional ones too)
    # item index -> the condition under which a call has that optional submodule, in the
    # constructor's parameters (`stride != 1 or in_channels != c`), where one fits every call
    conditions: dict[int, str] = field(default_factory=dict)
    # "stage": numbered calls of one class, built by a loop (an nn.Sequential subclass);
    # "inline": a labelled group of numbered layers, written nn.Sequential(...) where used
    kind: str = "class"
    count: str | None = None  # a stage's number of calls (`n`)
    # A block whose calls build different layers is still one class, a structure per
    # set of layers: the first structure lists them all (itself first), the others
    # point at it.  `choice` holds the constructor's tests that pick structures 0 ..
    # n-2 (the last is what remains); `choice_store` what forward keeps to repeat them.
    alternatives: list["Variant"] = field(default_factory=list)
    primary: "Variant | None" = None
    choice: list[str] = field(default_factory=list)
    choice_store: tuple[list[str], list[str]] | None = None  # (init lines, forward's tests)

    @property
    def owner(self) -> "Variant":
        """The variant that is the class: this one, or the first structure of its block."""
        return self.primary or self

    @property
    def structures(self) -> list["Variant"]:
        return self.owner.alternatives or [self.owner]

    @property
    def calls(self) -> list[Instance]:
        """Every call of the class, structure by structure: the order of Param.values."""
        return [inst for structure in self.structures for inst in structure.instances]

    @property
    def optional(self) -> set[int]:
        """The indices of the items some calls lack (`self.downsample = None` there)."""
        return {k for inst in self.instances for k, it in enumerate(inst.items) if it.absent}

    def switch(self, k: int) -> str:
        """The name that says whether a call has optional item `k`: its submodule's, or
        for an inline merge an attribute of its own (`self.residual` for an add)."""
        item = self.template.items[k]
        if item.attr is not None:
            return names.parameter_name(item.attr)
        return "residual" if " + " in item.call else "gated" if " * " in item.call \
            else f"use_step{k}"

    def leaders(self) -> dict[int, int]:
        """Each optional item -> the first of its run: consecutive optional items that
        the same calls have (an unlabelled `path if` of two layers) share one `if`."""
        optional, lead = self.optional, {}
        for k in sorted(optional):
            same = k - 1 in optional and all(i.items[k].absent == i.items[k - 1].absent
                                             for i in self.instances) \
                and None not in (self.template.items[k].attr, self.template.items[k - 1].attr)
            lead[k] = lead[k - 1] if same else k
        return lead


def build_tree(graph: Graph) -> Instance:
    """Nest the graph's nodes into block calls by their scope frames."""
    ctx = EmitContext(graph, graph.users())
    root = Instance(None, "")
    for node in graph.layers():
        inst = root
        for frame in node.scope:
            last = inst.items[-1].child if inst.items else None
            if last is None or last.frame.name != frame.name:
                last = Instance(frame, names.attribute_name(frame.name.rsplit(".", 1)[-1],
                                                            frame.span))
                inst.items.append(Item(last.attr, None, [], "{self}({0})", (), -1, last))
            inst = last
        e = emit(node, ctx)
        attr = names.attribute_name(node.name.rsplit(".", 1)[-1], node.span)
        inst.items.append(Item(attr if e.callee else None, e.callee, _with_defaults(e), e.call,
                               node.inputs, node.id, init=e.init))
    _wire(root, graph, ctx.users)
    return root


def _with_defaults(e) -> list[tuple]:
    """The emission's arguments with the keywords it leaves out at their defaults
    written in (OMITTED_DEFAULTS), so one block's calls line up argument for argument."""
    omitted = OMITTED_DEFAULTS.get(e.callee)
    if not omitted:
        return list(e.args)
    given = {kw: value for kw, value in e.args if kw is not None}
    fixed = [(kw, value) for kw, value in e.args if kw not in dict(omitted)]
    return fixed + [(kw, given.get(kw, default)) for kw, default in omitted]


def _wire(inst: Instance, graph: Graph, users: list[list[int]]) -> None:
    """Fill in each instance's external inputs and output, depth first."""
    seen_attrs: set[str] = set()
    for item in inst.items:
        if item.attr is not None:
            if item.attr in seen_attrs:
                raise SpecError(f"two layers are both named {item.attr!r} in one block",
                                graph.nodes[item.output].span if item.child is None else
                                item.child.frame.span)
            seen_attrs.add(item.attr)
        if item.child is not None:
            _wire(item.child, graph, users)
            item.inputs, item.output = tuple(item.child.inputs), item.child.output
            inst.nodes |= item.child.nodes
        else:
            inst.nodes.add(item.output)
    if inst.frame is None:
        inst.inputs, inst.output = [0], graph.output
        return
    for item in inst.items:
        for i in item.inputs:
            if i not in inst.nodes and i not in inst.inputs:
                inst.inputs.append(i)
    ends = {node for _, node in graph.outputs}  # a head's result has no users: it is returned
    outputs = [n for n in sorted(inst.nodes)
               if n in ends or any(u not in inst.nodes for u in users[n])]
    if len(outputs) != 1:
        raise SpecError(f"block call {inst.frame.name} has {len(outputs)} results; the PyTorch "
                        f"back end needs exactly one", inst.frame.span)
    inst.output = outputs[0]
    inst.input_channels = graph.nodes[inst.inputs[0]].shape[0] if inst.inputs else None


def _local_refs(inst: Instance, item: Item) -> tuple:
    produced = {it.output: k for k, it in enumerate(inst.items)}
    return tuple(("item", produced[i]) if i in produced else ("in", inst.inputs.index(i))
                 for i in item.inputs)


def group_variants(root: Instance) -> list[Variant]:
    """Assign every instance to a Variant; variants in dependency order (children first),
    the network's last."""
    variants: dict[tuple, Variant] = {}
    order: list[Variant] = []
    taken: set[str] = set()
    per_block: dict[str, int] = {}
    classes: dict[str, Variant] = {}  # block -> its class, for the structures that follow

    def visit(inst: Instance) -> None:
        for item in inst.items:
            if item.child is not None:
                visit(item.child)
        kind = _kind(inst)
        key = (_definition(inst.frame), "stage",
               *dict.fromkeys(it.child.variant.class_name for it in inst.items)) \
            if kind == "stage" else \
            (_definition(inst.frame), len(inst.inputs), _signature(inst), _output_index(inst))
        variant = variants.get(key)
        if kind == "stage" and variant is not None:
            if len(inst.items) > len(variant.template.items):
                variant.template = inst  # the one to show the other calls with
        elif variant is not None and variant.template is not inst and \
                len(variant.template.items) != len(inst.items):  # the template grew since
            inst.items = _with_placeholders(inst.items, _embed(inst, variant.template),
                                            variant.template.items)
        every = [s for v in order for s in v.structures]
        variant = variant or (_merge_into(every, inst) if kind == "class" else None)
        if variant is None:
            variant = Variant(key[0], key, template=inst, kind=kind or "class")
            first = classes.get(inst.frame.block) if _joins_structures(inst, kind) else None
            if first is not None and len(first.template.inputs) == len(inst.inputs):
                first.alternatives = first.alternatives or [first]
                first.alternatives.append(variant)
                variant.primary, variant.class_name = first, first.class_name
                order.remove(first)
                order.append(first)  # after the classes its new structure calls
            else:
                if inst.frame is not None:
                    per_block[inst.frame.block] = per_block.get(inst.frame.block, 0) + 1
                    variant.index = per_block[inst.frame.block]
                    block = "output_head" if inst.frame.block == HEAD_BLOCK else inst.frame.block
                    variant.class_name = names.class_name(block, taken, inst.frame.span)
                    if _joins_structures(inst, kind):
                        classes.setdefault(inst.frame.block, variant)
                order.append(variant)
        variants[key] = variant
        variant.instances.append(inst)
        inst.variant = variant

    for item in root.items:
        if item.child is not None:
            visit(item.child)
    root_variant = Variant(None, ("network",), instances=[root], template=root)
    root.variant = root_variant
    order.append(root_variant)
    return order


def _joins_structures(inst: Instance, kind: str) -> bool:
    """Whether a call that builds other layers than the block's class so far becomes
    another structure of that class (a block's calls), not a class of its own."""
    return kind == "class" and inst.frame is not None and not inst.frame.group \
        and inst.frame.block != HEAD_BLOCK


def _kind(inst: Instance) -> str:
    """"stage" for a block call made of numbered calls, the first one free (of its own
    class, as ShuffleNet's strided unit may be) and the others all alike (a ResNet
    stage: `repeat n { basic(...) }` under a `sequential` label); "inline" for a labelled group of numbered layers in a chain
    (`downsample: sequential path { conv(...); bn }`); "class" otherwise."""
    if inst.frame is None or not _numbered_chain(inst):
        return "class"
    if inst.frame.group:  # as nn.Sequential(...) only if each layer is called as it is
        plain = all(it.call == "{self}({0})" and it.init is None for it in inst.items)
        return "inline" if plain else "class"
    children = [it.child for it in inst.items]
    if any(c is None for c in children) or \
            len({c.variant.class_name for c in children[1:]}) > 1:
        return "class"
    rest = {(c.frame.args, c.input_channels, fingerprint(c)) for c in children[1:]}
    return "stage" if len(rest) <= 1 else "class"


def _numbered_chain(inst: Instance) -> bool:
    """Items 0, 1, 2 ..., each reading the one before (the first, the call's input), the
    last the result: what nn.Sequential computes."""
    items = inst.items
    if not items or len(inst.inputs) != 1 or inst.output != items[-1].output:
        return False
    previous = inst.inputs[0]
    for k, item in enumerate(items):
        if item.attr != str(k) or item.absent or item.inputs != (previous,):
            return False
        previous = item.output
    return True


def fingerprint(inst: Instance) -> tuple:
    """Everything a call builds, by value: two calls with one fingerprint, the same
    arguments and the same input are constructed alike."""
    return tuple((it.attr, it.callee, it.init, tuple(map(repr, it.args)), it.call,
                  fingerprint(it.child) if it.child else None) for it in inst.items)


def item_shape(it: Item) -> tuple:
    """An item as a class sees it: submodule, op, parameter template, keywords, forward
    template and child class (the values aside)."""
    return (it.attr, it.callee, it.init, tuple(kw for kw, _ in it.args), it.call,
            it.child.variant.class_name if it.child else None)


def _signature(inst: Instance) -> tuple:
    """What makes two calls one class: each item's shape and wiring."""
    return tuple((item_shape(it), _local_refs(inst, it)) for it in inst.items)


def _output_index(inst: Instance) -> int | None:
    return next(k for k, it in enumerate(inst.items) if it.output == inst.output) \
        if inst.items else None


def _merge_into(order: list[Variant], inst: Instance) -> Variant | None:
    """The variant of the same block `inst` joins as one class, its optional submodules
    (`downsample`) present in some calls and absent in others; None if there is none.
    Either `inst` lacks some of the variant's submodules (placeholders fill its items) or
    the variant's calls lack some of `inst`'s (it becomes the template)."""
    if inst.frame is None or inst.frame.group:
        return None
    for variant in order:
        if variant.block != inst.frame.block or variant.template is None:
            continue
        template = variant.template
        if len(template.inputs) != len(inst.inputs):
            continue
        slots = _embed(inst, template)
        if slots is not None:
            inst.items = _with_placeholders(inst.items, slots, template.items)
            return variant
        slots = _embed(template, inst)
        if slots is not None:
            for other in variant.instances:
                other.items = _with_placeholders(other.items, slots, inst.items)
            variant.template = inst
            return variant
    return None


def _embed(small: Instance, large: Instance) -> list[int] | None:
    """Where each of `small`'s items stands among `large`'s, if `small` is `large` without
    some parts whose result, where they are absent, is one of their inputs: named
    single-input submodules (an optional shortcut projection) and up to two inline
    merges (MobileNet's residual `add`, absent where the block changes shape); None
    otherwise.  The merges' passed-through inputs are recorded on `large`'s items."""
    present = {it.attr for it in small.items}
    named = [k for k, it in enumerate(large.items) if it.attr is not None and it.attr not in present]
    if any(len(large.items[k].inputs) != 1 or large.items[k].attr.isdigit() for k in named):
        return None  # numbered children differ in count, not in an optional part
    extra = len(large.items) - len(named) - len(small.items)
    merges = [k for k, it in enumerate(large.items) if it.attr is None and len(it.inputs) > 1]
    if not 0 <= extra <= min(2, len(merges)):
        return None
    for ops in itertools.combinations(merges, extra):
        if not named and not ops:
            continue
        for choice in itertools.product(*(range(len(large.items[k].inputs)) for k in ops)):
            passes = {**dict.fromkeys(named, 0), **dict(zip(ops, choice))}
            kept = _aligned(small, large, passes)
            if kept is not None:
                for k, index in passes.items():
                    large.items[k].passes = index
                return kept
    return None


def _aligned(small: Instance, large: Instance, passes: dict[int, int]) -> list[int] | None:
    """`small`'s positions among `large`'s items once the items in `passes` are taken out,
    each result replaced by the input it passes; None unless every item and wire agree."""
    kept = [k for k in range(len(large.items)) if k not in passes]
    through = {large.items[k].output: large.items[k].inputs[i] for k, i in passes.items()}

    def passed(node: int) -> int:
        while node in through:
            node = through[node]
        return node

    position = {large.items[k].output: j for j, k in enumerate(kept)}
    for j, k in enumerate(kept):
        a, b = large.items[k], small.items[j]
        if item_shape(a) != item_shape(b):
            return None
        refs_a = [("item", position[n]) if n in position else
                  ("in", large.inputs.index(n)) if n in large.inputs else None
                  for n in map(passed, a.inputs)]
        if refs_a != list(_local_refs(small, b)):
            return None
    large_out = passed(large.output)
    if large_out not in position or _output_index(small) != position[large_out]:
        return None
    return kept


def _with_placeholders(items: list[Item], slots: list[int], template: list[Item]) -> list[Item]:
    """`items` laid out as `template`'s, with an absent placeholder where it lacks one."""
    laid = [Item(it.attr, it.callee, [], it.call, (), -1, None, absent=True, init=it.init)
            for it in template]
    for item, k in zip(items, slots):
        laid[k] = item
    return laid


def _definition(frame: ScopeFrame | None):
    """What an instance is an instance of: the network (None), a block, or a group of
    statements under a label (never merged with a block of the same name)."""
    if frame is None:
        return None
    return ("group", frame.block) if frame.group else frame.block
