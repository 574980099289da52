"""The diagram's view of an IR graph: boxes, arrows and the block clusters around them.

Both renderers (DOT and Mermaid) draw a `View`, so they agree on what is shown.
`--depth N` collapses block calls using each node's scope (docs/ir.md): a node
whose scope holds N frames or more is drawn inside one box standing for its
N-th enclosing block call, `scope[N - 1]`.  Depth 1 therefore shows the
network's top-level statements (stem layers, one box per top-level block call,
head layers); no depth shows every layer, with each block call drawn as a
labelled cluster around its layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnndsl.analysis import analyse
from cnndsl.ir.graph import HEAD_BLOCK, Graph, Node, ScopeFrame, Shape, format_shape
from cnndsl.ops import OPS

MERGES = ("add", "concat", "mul")


@dataclass
class Box:
    """One drawn node: a layer, or a collapsed block call."""

    id: str  # a DOT/Mermaid-safe identifier: n{node id} or b{first node id}
    kind: str  # "layer", "block", "input", or the merge op ("add", "concat", "mul")
    title: str  # "conv 3x3/2, 128", "basic(c=128, stride=2)"
    name: str  # the IR's hierarchical name, e.g. "basic3.conv1" or "basic3"
    shape: Shape
    params: int
    op: str  # the IR op, or "block"
    clusters: tuple[ScopeFrame, ...]  # the expanded block calls around it, outermost first

    @property
    def shape_text(self) -> str:
        return format_shape(self.shape)

    @property
    def params_text(self) -> str:
        return f"{self.params:,} params" if self.params else ""


@dataclass(frozen=True)
class Arrow:
    source: str
    target: str
    label: str  # the tensor's shape, e.g. "64x56x56"


@dataclass
class View:
    name: str
    title: str  # one line: network, input, output, params
    boxes: list[Box]  # in IR order (of each box's first node)
    arrows: list[Arrow]
    clusters: dict[str, ScopeFrame] = field(default_factory=dict)  # name -> frame
    # the first boxes of parallel branches, left to right in the spec's order
    branches: list[tuple[Box, ...]] = field(default_factory=list)
    _order: dict | None = field(default=None, repr=False)  # first_index's cache

    def level(self, path: tuple[str, ...]) -> tuple[list[Box], list[ScopeFrame]]:
        """The boxes directly inside the cluster `path` (a chain of block-call names;
        () is the top level), and the block calls drawn as clusters just inside it."""
        boxes: list[Box] = []
        children: list[str] = []
        for box in self.boxes:
            names = tuple(f.name for f in box.clusters)
            if names == path:
                boxes.append(box)
            elif names[:len(path)] == path and names[len(path)] not in children:
                children.append(names[len(path)])
        return boxes, [self.clusters[name] for name in children]

    def first_index(self, item: "Box | ScopeFrame") -> int:
        """Where a box, or the first box inside a block call's cluster, stands in IR order."""
        if self._order is None:
            self._order = {}
            for k, box in enumerate(self.boxes):
                self._order.setdefault(("box", box.id), k)
                for frame in box.clusters:
                    self._order.setdefault(("frame", frame.name), k)
        key = ("box", item.id) if isinstance(item, Box) else ("frame", item.name)
        return self._order.get(key, len(self.boxes))

    def branches_at(self, path: tuple[str, ...]) -> list[tuple[Box, ...]]:
        """The sets of parallel branch heads that all lie directly inside cluster `path`."""
        return [heads for heads in self.branches
                if all(tuple(f.name for f in box.clusters) == path for box in heads)]


def local_name(name: str) -> str:
    """`layer2.basic3` -> `basic3`: inside a cluster the enclosing calls are already shown."""
    return name.rsplit(".", 1)[-1]


def frame_label(frame: ScopeFrame) -> str:
    """`basic(c=128, stride=2)`: the block call as the spec would write it; an output
    head's side branch is `output head, loss weight 0.3`; a group's label as it is
    written (`features: { ... }`)."""
    if frame.block == HEAD_BLOCK:
        return f"output head, loss weight {_value(dict(frame.args).get('weight', 0.0))}"
    if frame.group:
        return "{ ... }"
    args = ", ".join(f"{key}={_value(value)}" for key, value in frame.args)
    return f"{frame.block}({args})"


def cluster_id(name: str) -> str:
    """An identifier for the cluster of block call `name` (both DOT and Mermaid accept it)."""
    # a prefix code ('.' -> '__', '_' -> '_u'), so distinct names never share an id:
    # `w1.x_y1` is cluster_w1__x_uy1 and `w1_x_y1` cluster_w1_ux_uy1
    escape = {".": "__", "_": "_u"}
    return "cluster_" + "".join(c if c.isalnum() and c.isascii() else escape.get(c, "_x")
                                for c in name)


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return format_shape(value)
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _layer_box(node: Node, params: int) -> Box:
    kind = "input" if node.op == "input" else node.op if node.op in MERGES else "layer"
    title = f"input {format_shape(node.shape)}" if node.op == "input" else (
        OPS[node.op].describe(dict(node.attrs)))
    return Box(f"n{node.id}", kind, title, node.name, node.shape, params, node.op, node.scope)


def _group(node: Node, depth: int | None) -> ScopeFrame | None:
    """The collapsed block call `node` belongs to at this depth, if any."""
    if depth is None or len(node.scope) < depth:
        return None
    return node.scope[depth - 1]


def build_view(graph: Graph, depth: int | None = None) -> View:
    """Boxes and arrows for `graph`; `depth` (1 or more) collapses deeper block calls."""
    if depth is not None and depth < 1:
        raise ValueError("depth must be 1 or more")
    stats = analyse(graph)
    params = [s.cost.params for s in stats.nodes]
    users = graph.users()
    box_of: list[str] = []
    boxes: dict[str, Box] = {}
    members: dict[str, list[Node]] = {}
    for node in graph.nodes:
        frame = _group(node, depth)
        if frame is None:
            box = _layer_box(node, params[node.id])
        elif frame.name in members:
            box = boxes[f"b{members[frame.name][0].id}"]
        else:
            box = Box(f"b{node.id}", "block", frame_label(frame), frame.name, node.shape, 0,
                      "block", node.scope[:depth - 1])
        boxes.setdefault(box.id, box)
        if box.kind == "block":
            members.setdefault(frame.name, []).append(node)
            box.params += params[node.id]
        box_of.append(box.id)
    # a collapsed block's output: its last node read from outside (or a network output)
    ends = {node for _, node in graph.outputs}
    for group in members.values():
        box = boxes[box_of[group[0].id]]
        for node in group:
            if node.id in ends or any(box_of[u] != box.id for u in users[node.id]):
                box.shape = node.shape
    arrows: list[Arrow] = []
    seen: set[tuple[tuple[str, str, str], int]] = set()
    for node in graph.nodes:
        # a merge drawn as itself shows every input, even one tensor read twice
        own_merge = node.op in MERGES and box_of[node.id] == f"n{node.id}"
        for k, i in enumerate(node.inputs):
            key = (box_of[i], box_of[node.id], format_shape(graph.nodes[i].shape))
            if key[0] != key[1] and (key, k if own_merge else 0) not in seen:
                seen.add((key, k if own_merge else 0))
                arrows.append(Arrow(*key))
    clusters = {f.name: f for box in boxes.values() for f in box.clusters}
    branches = _branches(graph, users, [boxes[b] for b in box_of])
    return View(graph.name, _title(graph, stats.total_params), list(boxes.values()), arrows,
                clusters, branches)


def _branches(graph: Graph, users: list[list[int]], box_of: list[Box]) -> list[tuple[Box, ...]]:
    """For each tensor read by several branches, the branches' first boxes in spec
    order.  Merges are left out: a shortcut goes straight to its add."""
    result = []
    for node in graph.nodes:
        heads: list[Box] = []
        for u in users[node.id]:
            box = box_of[u]
            if box is not box_of[node.id] and box.kind not in MERGES and box not in heads:
                heads.append(box)
        if len(heads) > 1:
            result.append(tuple(heads))
    return result


def _title(graph: Graph, params: int) -> str:
    heads = "".join(f", head {h.name} {format_shape(graph.nodes[h.node].shape)}"
                    for h in graph.heads)
    return (f"{graph.name} — input {format_shape(graph.input.shape)}, output "
            f"{format_shape(graph.output_node.shape)}{heads}, {params:,} params")
