"""Recover the block structure from the flat IR: one `Instance` per block call
(from the nodes' scope frames), grouped into `Variant`s, one generated class each.

Calls of one block can build different layers (`basic(64)` has an identity
shortcut, `basic(128, stride=2)` a projection), so calls are grouped by
structure: same submodules, same op templates, same wiring.  Within a variant,
a value that differs between calls becomes a constructor parameter, named
after the block argument it equals in every call (`c`, `stride`), or
`in_channels` (the block input's channels), or `arg * k`; anything else gets a
generic name.  Every call passes its own values, so the generated class is
exact for each call by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnndsl.backends.torch import names
from cnndsl.backends.torch.emitters import POSITIONAL, EmitContext, emit
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
    init: str | None = None  # a parameter's constructor template (Emission.init)


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


@dataclass
class Param:
    name: str
    values: list  # one per instance


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
        inst.items.append(Item(attr if e.callee else None, e.callee, list(e.args), e.call,
                               node.inputs, node.id, init=e.init))
    _wire(root, graph, ctx.users)
    return root


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

    def visit(inst: Instance) -> None:
        for item in inst.items:
            if item.child is not None:
                visit(item.child)
        key = (_definition(inst.frame), len(inst.inputs),
               tuple((it.attr, it.callee, it.init, tuple(kw for kw, _ in it.args), it.call,
                      _local_refs(inst, it),
                      it.child.variant.class_name if it.child else None) for it in inst.items),
               next(k for k, it in enumerate(inst.items) if it.output == inst.output)
               if inst.items else None)
        variant = variants.get(key)
        if variant is None:
            variant = Variant(key[0], key)
            if inst.frame is not None:
                per_block[inst.frame.block] = per_block.get(inst.frame.block, 0) + 1
                variant.index = per_block[inst.frame.block]
                block = "output_head" if inst.frame.block == HEAD_BLOCK else inst.frame.block
                variant.class_name = names.class_name(block, taken, inst.frame.span)
            variants[key] = variant
            order.append(variant)
        variant.instances.append(inst)
        inst.variant = variant

    for item in root.items:
        if item.child is not None:
            visit(item.child)
    root_variant = Variant(None, ("network",), instances=[root])
    root.variant = root_variant
    order.append(root_variant)
    return order


def _definition(frame: ScopeFrame | None):
    """What an instance is an instance of: the network (None), a block, or a group of
    statements under a label (never merged with a block of the same name)."""
    if frame is None:
        return None
    return ("group", frame.block) if frame.group else frame.block


def resolve_params(variant: Variant, avoid: frozenset[str] = frozenset()) -> None:
    """Decide, for each constructor argument of each item, a literal or a parameter.
    Parameter names never equal a name in `avoid` (the module's class names)."""
    if variant.params is not None:
        return
    for inst in variant.instances:  # children first: their parameters are our arguments
        for item in inst.items:
            if item.child is not None:
                child = item.child.variant
                resolve_params(child, avoid)
                k = child.instances.index(item.child)
                item.args = [(None, p.values[k]) for p in child.params]
    first, params = variant.instances[0], {}
    variant.exprs = []
    for i, item in enumerate(first.items):
        row = []
        for j, (kw, value) in enumerate(item.args):
            values = [inst.items[i].args[j][1] for inst in variant.instances]
            if all(_same(v, value) for v in values):
                row.append(names.literal(value))
            else:
                label = kw or (POSITIONAL.get(item.callee, ())[j:j + 1] or (f"arg{j}",))[0]
                stem = f"layer{item.attr}" if str(item.attr).isdigit() else item.attr  # 0_...
                row.append(_parameter(variant, params, values, f"{stem}_{label}", avoid))
        variant.exprs.append(row)
    ordered = sorted(params.values(), key=lambda p: p[1])
    variant.params = [p for p, _ in ordered]


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


def _parameter(variant: Variant, params: dict, values: list, fallback: str,
               avoid: frozenset[str]) -> str:
    """Name the parameter that yields `values` (one per call); record it in `params`,
    keyed by name and values: two parameters that would share a name (a block
    argument `conv1_out_channels` beside the generic name of conv1's channels,
    `lambda` escaped beside `lambda_`) but carry different values stay two."""
    instances = variant.instances
    frames = [inst.frame for inst in instances]
    candidates = []  # (priority, name, signature order, values per call, suffix)
    for rank, (arg, _) in enumerate(frames[0].args):
        args = [dict(f.args).get(arg) for f in frames]
        name = names.parameter_name(arg, frames[0].span)
        if all(_same(a, v) for a, v in zip(args, values)):
            candidates.append((0, name, (1, rank), args, ""))
        elif all(isinstance(a, int) and not isinstance(a, bool) and a > 0
                 and isinstance(v, int) for a, v in zip(args, values)):
            k = values[0] // args[0]
            if k >= 2 and all(v == a * k for a, v in zip(args, values)):
                candidates.append((2, name, (1, rank), args, f" * {k}"))
    channels = [inst.input_channels for inst in instances]
    if all(_same(c, v) for c, v in zip(channels, values)):
        candidates.append((1, "in_channels", (0, 0), channels, ""))
    elif all(isinstance(c, int) and isinstance(v, int) and not isinstance(v, bool) and v > 0
             for c, v in zip(channels, values)):
        k = channels[0] // values[0]
        if k >= 2 and all(c == v * k for c, v in zip(channels, values)):
            candidates.append((3, "in_channels", (0, 0), channels, f" // {k}"))
    if candidates:
        _, name, order, args, suffix = min(candidates, key=lambda c: c[0])
    else:
        name, order, args, suffix = fallback, (2, len(params)), values, ""
    key = (name, tuple(map(repr, args)))
    if key not in params:
        taken = avoid | {p.name for p, _ in params.values()}
        unique, k = name, 2
        while unique in taken:
            unique, k = f"{name}{k}", k + 1
        params[key] = (Param(unique, list(args)), order)
    return params[key][0].name + suffix
