"""Recover the block structure from the flat IR: one `Instance` per block call
(from the nodes' scope frames), grouped into `Variant`s, one generated class each.

Calls of one block can build different layers (`basic(64)` has an identity
shortcut, `basic(128, stride=2)` a projection), so calls are grouped by
structure: same submodules, same op templates, same wiring.  Within a variant,
a value that differs between calls becomes a constructor parameter, named
after the block argument it equals in every call (`c`, `stride`), or
`in_channels` (the block input's channels), or `arg * k`, `arg // k`; anything
else gets a generic name.  Every call passes its own values, so the generated class is
exact for each call by construction.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from cnndsl.backends.torch import names
from cnndsl.backends.torch.emitters import OMITTED_DEFAULTS, POSITIONAL, EmitContext, emit
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


def _shape(it: Item) -> tuple:
    """An item as a class sees it: submodule, op, parameter template, keywords, forward
    template and child class (the values aside)."""
    return (it.attr, it.callee, it.init, tuple(kw for kw, _ in it.args), it.call,
            it.child.variant.class_name if it.child else None)


def _signature(inst: Instance) -> tuple:
    """What makes two calls one class: each item's shape and wiring."""
    return tuple((_shape(it), _local_refs(inst, it)) for it in inst.items)


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
        if _shape(a) != _shape(b):
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


def resolve_params(variant: Variant, avoid: frozenset[str] = frozenset(),
                   defaults: dict | None = None, switches: dict | None = None) -> None:
    """Decide, for each constructor argument of each item, a literal or a parameter.
    Parameter names never equal a name in `avoid` (the module's class names);
    `defaults` are the blocks' literal parameter defaults (Graph.block_defaults),
    `switches` the parameters their conditions test (Graph.block_switches)."""
    variant = variant.owner
    if variant.params is not None:
        return
    for inst in variant.calls:  # children first: their parameters are our arguments
        for item in inst.items:
            if item.child is not None:
                child = item.child.variant
                resolve_params(child, avoid, defaults, switches)
                k = child.calls.index(item.child)
                item.args = [(p.name if p.keyword else None, p.values[k]) for p in child.params]
                item.knobs = {n: p.knobs[k] for n, p in enumerate(child.params)
                              if p.knobs and p.knobs[k]}
    if variant.kind == "stage":
        return _resolve_stage(variant, avoid, defaults)
    params: dict = {}
    for structure in variant.structures:
        _resolve_items(structure, params, avoid)
    if len(variant.structures) > 1:
        _align_structures(variant, [p for p, _ in params.values()])
    _order_params(variant, params, defaults, (switches or {}).get(variant.block, ()))


def _align_structures(variant: Variant, params: list[Param]) -> None:
    """Where one structure writes a literal that another writes as a parameter
    expression for the same layer (`kernel_size=1` beside `kernel_size=k`), or a
    parameter other than an earlier structure's (`c` beside `in_channels`), and that
    expression gives the same values in each of its calls, write the expression: the
    structures' common lines then read alike (and are written once)."""
    calls = variant.calls
    spaces = [{p.name: p.values[k] for p in params} for k in range(len(calls))]
    knobs = {p.name for p in params if p.knobs}  # network parameters: exact where they are
    written = {}  # an item's shape -> its expressions in the structures that have one
    for structure in variant.structures:
        for item, row in zip(structure.template.items, structure.exprs):
            written.setdefault(_shape(item), []).append(row)
    for structure in variant.structures:
        at = [calls.index(inst) for inst in structure.instances]
        for i, (item, row) in enumerate(zip(structure.template.items, structure.exprs)):
            present = [k for k, inst in zip(at, structure.instances) if not inst.items[i].absent]
            values = [inst.items[i].args for inst in structure.instances
                      if not inst.items[i].absent]
            rows = written[_shape(item)]
            for j, expr in enumerate(row):
                if not present:
                    continue
                # a literal takes any structure's expression; a parameter an earlier
                # one's (`in_channels` beside `c` where they are equal), so all agree
                literal = expr == names.literal(values[0][j][1])
                for other in rows if literal else rows[:rows.index(row)]:
                    if expr in knobs or j < len(other) and other[j] in knobs:
                        break
                    if j < len(other) and other[j] != expr and _gives(
                            other[j], [spaces[k] for k in present], [v[j][1] for v in values]):
                        row[j] = other[j]
                        break


def _gives(expr: str, spaces: list[dict], values: list) -> bool:
    """Whether `expr` evaluates to each value in the matching parameter namespace."""
    try:
        return all(_same(eval(expr, {"__builtins__": {}}, space), v)  # noqa: S307 (ours)
                   for space, v in zip(spaces, values))
    except Exception:  # noqa: BLE001 - a None or a name another structure lacks: no
        return False


def _resolve_items(variant: Variant, params: dict, avoid: frozenset[str]) -> None:
    """One structure's arguments, item by item: a literal where the structure's calls
    agree, else a parameter (shared by the class's structures, in `params`)."""
    template = variant.template
    variant.exprs = []
    for i, item in enumerate(template.items):
        present = [inst for inst in variant.instances if not inst.items[i].absent]
        row = []
        for j, (kw, value) in enumerate(item.args):
            values = [inst.items[i].args[j][1] for inst in present]
            knobs = _knobs(variant, present, i, j)
            label = kw or item.child.variant.params[j].name if item.child else \
                kw or (POSITIONAL.get(item.callee, ())[j:j + 1] or (f"arg{j}",))[0]
            # an inline group's values are its caller's to write: a literal there, or
            # the caller's parameter where its other structures take one (in_channels)
            if variant.kind != "inline" and all(_same(v, value) for v in values) and not (
                    len(present) < len(variant.calls) and
                    _matches_argument(present, values, spatial=label.endswith(SPATIAL))) \
                    and not knobs:
                row.append(names.literal(value))
            else:
                stem = f"layer{item.attr}" if str(item.attr).isdigit() else item.attr  # 0_...
                row.append(_parameter(variant, present, params, values, f"{stem}_{label}",
                                      avoid, exact=variant.kind == "inline", knobs=knobs))
        variant.exprs.append(row)


def _knobs(variant: Variant, present: list[Instance], i: int, j: int) -> tuple:
    """Per call of the class, the network parameter item i's argument j is there
    (knobs.py), or () where it is none's: the network class writes its own."""
    if variant.template.frame is None:
        return ()
    by_call = {id(inst): inst.items[i].knobs.get(j) for inst in present}
    knobs = tuple(by_call.get(id(inst)) for inst in variant.calls)
    return knobs if any(knobs) else ()


# Layer arguments that are sizes in space, never the input's channel count, though a few
# calls may make them equal by chance (a 3x3 kernel on 3 input channels)
SPATIAL = ("kernel_size", "stride", "padding", "dilation", "output_padding")


def _matches_argument(present: list[Instance], values: list, spatial: bool) -> bool:
    """Whether an optional item's value, one for the calls that have it, is a block
    argument (`stride=stride`) or, unless it is a size in space, the input's channels
    there (`nn.Conv2d(in_channels, c, ...)`): written so, not as the literal those calls
    happen to share."""
    if not isinstance(values[0], int) or isinstance(values[0], bool) or values[0] in (0, 1):
        return False
    args = [dict(inst.frame.args) for inst in present]
    return any(all(_same(a.get(name), v) for a, v in zip(args, values)) for name in args[0]) \
        or not spatial and all(_same(inst.input_channels, v) for inst, v in zip(present, values))


def _resolve_stage(variant: Variant, avoid: frozenset[str], defaults: dict | None) -> None:
    """A stage's constructor: its number of calls, the first call's arguments and the
    others' (alike in every call of the stage, as _kind checked)."""
    params, instances = {}, variant.instances
    variant.count = _expr(variant, instances, params, [len(i.items) for i in instances],
                          "blocks", avoid)
    rest = [inst for inst in instances if len(inst.items) > 1]
    variant.exprs = []
    for position, present in ((0, instances), (1, rest)):
        item = variant.template.items[min(position, len(variant.template.items) - 1)]
        variant.exprs.append([
            _expr(variant, present, params, [inst.items[position].args[j][1] for inst in present],
                  f"{'first' if position == 0 else 'rest'}_{kw or j}", avoid,
                  _knobs(variant, present, position, j))
            for j, (kw, _) in enumerate(item.args)] if present else [])
    _order_params(variant, params, defaults)


def _expr(variant: Variant, present: list[Instance], params: dict, values: list,
          fallback: str, avoid: frozenset[str], knobs: tuple = ()) -> str:
    """A literal where every call has one value and it is no network parameter, else a
    parameter (expression)."""
    if all(_same(v, values[0]) for v in values) and not knobs:
        return names.literal(values[0])
    return _parameter(variant, present, params, values, fallback, avoid,
                      exact=bool(knobs), knobs=knobs)


def _order_params(variant: Variant, params: dict, defaults: dict | None,
                  switches: tuple[str, ...] = ()) -> None:
    """The constructor's parameters: required ones, those with the spec's defaults, then
    the flags of optional submodules no condition tells apart."""
    ordered = [p for p, _ in sorted(params.values(), key=lambda p: p[1])]
    spec_defaults = dict((defaults or {}).get(variant.block, ()))
    if len(variant.structures) > 1:
        _choose_structure(variant, ordered, switches)
    calls, flags = variant.calls, {}
    for structure in variant.structures:
        at = [calls.index(inst) for inst in structure.instances]
        for i in sorted(structure.optional):
            present = [not inst.items[i].absent for inst in structure.instances]
            condition = _condition(ordered, structure.exprs[i] or  # a merge: the block's values
                                   [e for row in structure.exprs for e in row], present, at) \
                or _argument_test(calls, ordered, present, at, switches, only_switches=True)
            if condition is not None:
                structure.conditions[i] = condition
                continue
            name = structure.switch(i)  # one flag for the structures that share the name
            flag = flags.setdefault(name, Param(name, [False] * len(calls), flag=True))
            for k, has in zip(at, present):
                flag.values[k] = has
    for p in ordered:
        if p.name in spec_defaults and isinstance(spec_defaults[p.name], (bool, int, float, str)):
            p.default, p.has_default = spec_defaults[p.name], True
        elif None in p.values:  # a layer's value only some structures build: callers
            p.has_default = True  # without it leave it out (a squeeze's channels)
    variant.params = [p for p in ordered if not p.has_default] + \
        [p for p in ordered if p.has_default] + list(flags.values())
    for structure in variant.structures:
        structure.params = variant.params


def _choose_structure(variant: Variant, params: list[Param], switches: tuple[str, ...]) -> None:
    """The tests that pick each call's structure, first to last: on one block argument
    where one fits (`stride != 1`, `nl == 'HS'`; it becomes a parameter), else in the
    constructor's parameters (`in_channels != c`), else on a `structure` number the
    caller passes.
    Forward repeats them on what the constructor kept (`self.stride`)."""
    calls, structures = variant.calls, variant.structures
    which = [k for k, s in enumerate(structures) for _ in s.instances]
    exprs = [e for s in structures for row in s.exprs for e in row]
    for k in range(len(structures) - 1):
        at = [j for j, w in enumerate(which) if w >= k]  # earlier ones are picked already
        present = [which[j] == k for j in at]
        test = _argument_test(calls, params, present, at, switches) or \
            _condition(params, exprs, present, at)
        if test is None:
            number = Param("structure", which, default=0, has_default=True)
            params.append(number)
            variant.choice = [f"structure == {n}" for n in range(len(structures) - 1)]
            break
        variant.choice.append(test)
    used = {name for test in variant.choice for name in _identifiers(test)}
    attrs = {it.attr for s in structures for it in s.template.items}
    spaces = [{p.name: p.values[j] for p in params} for j in range(len(calls))]
    # forward tests each structure on its own, so each test must hold for its calls only
    alone = all(_gives(f"not not ({test})", spaces, [w == k for w in which])
                for k, test in enumerate(variant.choice))
    kept = [p.name for p in params if p.name in used]  # in the signature's order
    if len(kept) <= 2 and not used & (attrs | names.MODULE_ATTRIBUTES) and alone:
        variant.choice_store = ([f"self.{name} = {name}" for name in kept],
                                [_on_self(test, kept) for test in variant.choice])
    else:
        picked = " else ".join(f"{k} if {test}" for k, test in enumerate(variant.choice))
        variant.choice_store = ([f"self.structure = {picked} else {len(variant.choice)}"],
                                [f"self.structure == {k}" for k in range(len(variant.choice))])


def _argument_test(calls: list[Instance], params: list[Param], present: list[bool],
                   at: list[int], switches: tuple[str, ...], only_switches: bool = False
                   ) -> str | None:
    """A test on one block argument (`t != 1`, `se`, `nl == 'HS'`, `exp != in_channels`),
    or on two the block's conditions test (`mode == 'plain' and not se`), true for
    exactly the `present` calls among those `at`; the arguments join `params` if they
    are not there.  A comparison with the input's channels comes before one with a
    value, which could single the calls out by chance (`exp == 16`)."""
    taken = {p.name: p for p in params}
    channels = taken.get("in_channels")
    # what the block's conditions test (t, nl, se) first, then what no layer reads: the
    # reason the layers differ, not a value that happens to single the calls out (c)
    args = sorted((arg for arg, _ in calls[0].frame.args
                   if arg in switches or not only_switches),
                  key=lambda a: (switches.index(a) if a in switches else len(switches),
                                 names.parameter_name(a) in taken))
    singles = []  # (argument name, its values, its tests)
    for arg in args:
        values = [dict(c.frame.args).get(arg) for c in calls]
        name = names.parameter_name(arg, calls[0].frame.span)
        if name in taken and list(map(repr, taken[name].values)) != list(map(repr, values)):
            continue  # the name means something else here
        if not all(isinstance(v, (bool, int, str)) and type(v) is type(values[0])
                   for v in values):
            continue
        if isinstance(values[0], bool):
            tests = [name, f"not {name}"]
        else:
            tests = [f"{name} {op} in_channels" for op in ("!=", "==") if channels and
                     isinstance(values[0], int) and name != "in_channels"]
            tests += [f"{name} {op} {names.literal(v)}" for v in dict.fromkeys(values)
                      for op in ("!=", "==")]
        singles.append((arg, name, values, tests))
    pairs = [((a, b), f"{x} and {y}") for i, a in enumerate(singles) for b in singles[i + 1:]
             if a[0] in switches and b[0] in switches for x in a[3] for y in b[3]]
    alone = [((one,), t) for one in singles for t in one[3]]
    switched = [case for case in alone if case[0][0][0] in switches]
    for used, test in switched + pairs + [case for case in alone if case not in switched]:
        spaces = [{"in_channels": channels and channels.values[j],
                   **{name: values[j] for _, name, values, _ in used}} for j in at]
        if _gives(f"not not ({test})", spaces, present):
            for _, name, values, _ in used:
                if name not in taken:
                    params.append(Param(name, values))
                    taken[name] = params[-1]
            return test
    return None


_IDENTIFIER = re.compile(r"\"[^\"]*\"|'[^']*'|[A-Za-z_]\w*")
_KEYWORDS = {"and", "or", "not", "True", "False", "None"}


def _identifiers(test: str) -> set[str]:
    return {m for m in _IDENTIFIER.findall(test) if m[0] not in "'\"" and m not in _KEYWORDS}


def _on_self(test: str, kept: list[str]) -> str:
    """`stride != 1` -> `self.stride != 1` (quoted text left alone)."""
    return _IDENTIFIER.sub(lambda m: f"self.{m.group(0)}" if m.group(0) in kept
                           else m.group(0), test)


def _condition(params: list[Param], exprs: list[str], present: list[bool],
               at: list[int] | None = None) -> str | None:
    """The test, in the constructor's parameters, that says which calls have an optional
    submodule: torchvision's `stride != 1 or in_channels != planes * 4` rule for a
    shortcut projection, or half of it; None when none gives `present` for every call.
    `at`: the calls' positions in the parameters' values (all of them by default)."""
    names_ = {p.name for p in params}
    outs = list(dict.fromkeys(e for e in exprs if e != "in_channels" and
                              e.split(" ")[0] in names_))
    tests = [*(f"stride != 1 or in_channels != {e}" for e in outs),
             *(f"in_channels != {e}" for e in outs), "stride != 1",
             *(f"stride == 1 and in_channels == {e}" for e in outs),  # a residual's rule
             *(f"in_channels == {e}" for e in outs), "stride == 1",
             *(f"in_channels {op} {v}" for p in params if p.name == "in_channels"  # `> 8`
               for v in sorted(set(p.values) - {None}) for op in ("<=", ">")),
             *(f"{p.name} {op} {names.literal(v)}" for p in params for op in ("!=", "==")
               for v in dict.fromkeys(p.values) if isinstance(v, int) and not isinstance(v, bool))]
    at = range(len(present)) if at is None else at
    for test in tests:
        used = set(re.findall(r"[A-Za-z_]\w*", test)) - {"or"}
        if not used <= names_:
            continue
        calls = [{p.name: p.values[k] for p in params} for k in at]
        try:
            if all(bool(eval(test, {"__builtins__": {}}, call)) == has  # noqa: S307 (ours)
                   for call, has in zip(calls, present)):
                return test
        except TypeError:  # a None where a call has no value
            continue
    return None


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


def _parameter(variant: Variant, present: list[Instance], params: dict, values: list,
               fallback: str, avoid: frozenset[str], exact: bool = False,
               knobs: tuple = ()) -> str:
    """Name the parameter that yields `values` (one per call in `present`, the calls
    that have the item); record it in `params`, keyed by name and values: two
    parameters that would share a name (a block argument `conv1_out_channels` beside
    the generic name of conv1's channels, `lambda` escaped beside `lambda_`) but
    carry different values stay two.  Its values are every call's: a block argument's
    or the input's channels, which calls without the item pass too (None for a
    generic one).  `exact`: only a value's own name, no multiple of one (an inline
    group's values, which its caller names, where a coincidence would mislead).
    `knobs`: per call, the network parameter the value is (see _knobs); such a value
    is named exactly, never after the input's channels, and is a parameter of its own
    (another layer's equal value does not follow the network parameter)."""
    instances = variant.calls
    frames = [inst.frame for inst in present]
    candidates = []  # (priority, name, signature order, values per call, suffix)
    for rank, (arg, _) in enumerate(frames[0].args):
        args = [dict(f.args).get(arg) for f in frames]
        name = names.parameter_name(arg, frames[0].span)
        every = [dict(inst.frame.args).get(arg) for inst in instances]
        if all(_same(a, v) for a, v in zip(args, values)):
            candidates.append((0, name, (1, rank), every, ""))
        elif all(isinstance(a, int) and not isinstance(a, bool) and a > 0
                 and isinstance(v, int) for a, v in zip(args, values)):
            k = values[0] // args[0]
            if k >= 2 and all(v == a * k for a, v in zip(args, values)):
                candidates.append((2, name, (1, rank), every, f" * {k}"))
            d = next((d for d in (2, 4, 8, 16, 32, 64) if all(  # a power of two: c // 9 is chance
                v == a // d for a, v in zip(args, values))), None) if values[0] > 0 else None
            if d is not None:  # half the channels, a kernel's padding (k // 2)
                candidates.append((4, name, (1, rank), every, f" // {d}"))
    channels = [inst.input_channels for inst in present]
    every = [inst.input_channels for inst in instances]
    if all(_same(c, v) for c, v in zip(channels, values)):
        candidates.append((1, "in_channels", (0, 0), every, ""))
    elif all(isinstance(c, int) and isinstance(v, int) and not isinstance(v, bool) and v > 0
             for c, v in zip(channels, values)):
        k = channels[0] // values[0]
        if k >= 2 and all(c == v * k for c, v in zip(channels, values)):
            candidates.append((3, "in_channels", (0, 0), every, f" // {k}"))
        for rank, (arg, _) in enumerate(frames[0].args):  # an expansion: in_channels * t
            args = [dict(f.args).get(arg) for f in frames]
            if all(isinstance(a, int) and not isinstance(a, bool) for a in args) and \
                    any(a > 1 for a in args) and all(v == c * a for c, a, v in
                                                     zip(channels, args, values)):
                factor = (arg, (1, rank), [dict(i.frame.args).get(arg) for i in instances])
                candidates.append((5, "in_channels", (0, 0), every, factor))
                break
    if exact:
        candidates = [c for c in candidates if c[4] == ""]
    if knobs:  # the input's channels where they follow the network parameter too
        follows = [inst.channels_knob for inst in present]
        knob_of = dict(zip(map(id, variant.calls), knobs))
        candidates = [c for c in candidates if c[1] != "in_channels" or
                      all(knob_of[id(inst)] in (None, f) for inst, f in zip(present, follows))]
    if candidates:
        _, name, order, args, suffix = min(candidates, key=lambda c: c[0])
        if isinstance(suffix, tuple):  # the factor is a parameter too
            arg, arg_order, arg_values = suffix
            suffix = " * " + _register(params, names.parameter_name(arg, frames[0].span),
                                       arg_values, arg_order, avoid)
    else:  # a network parameter keeps its name down the classes (num_classes)
        by_call = dict(zip(map(id, present), values))
        name = next((k for k in knobs if k), fallback)
        order, suffix = (2, len(params)), ""
        args = [by_call.get(id(inst)) for inst in instances]
        same = [p.name for p, (kind, _) in params.values() if kind == 2 and
                list(map(repr, p.values)) == list(map(repr, args)) and p.knobs == knobs]
        if same:  # one value under two generic names (fc1's output is fc2's input): one
            return same[0]
    return _register(params, name, args, order, avoid, knobs) + suffix


def _register(params: dict, name: str, values: list, order: tuple, avoid: frozenset[str],
              knobs: tuple = ()) -> str:
    """The parameter `name` with `values` (and `knobs`) in `params`, added if new: its
    unique name."""
    key = (name, tuple(map(repr, values)), knobs)
    if key not in params:
        taken = avoid | {p.name for p, _ in params.values()}
        unique, k = name, 2
        while unique in taken:
            unique, k = f"{name}{k}", k + 1
        params[key] = (Param(unique, list(values), knobs=knobs), order)
    return params[key][0].name
