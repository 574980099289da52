"""Graphviz DOT source for a View, and rendering it with the `dot` program.

Layout choices, for legibility (compare Caffe's draw_net and the lecture
figures): top to bottom, one rounded box per layer coloured by kind, merges
(add, concat) as ellipses so the joins stand out, parallel branches left to
right in the order the spec lists them (`ordering=out`), expanded block calls as
dashed clusters titled with the call, and every arrow labelled with the shape
of the tensor it carries.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from cnndsl.backends.graph.collapse import (MERGES, Box, View, cluster_id, frame_label,
                                            local_name)
from cnndsl.escape import dot as dot_string

# fill colour by op; ops not listed are drawn white
FILL = {
    "conv": "#cfe2f3", "deconv": "#cfe2f3", "pointwise": "#cfe2f3", "fc": "#d9ead3",
    "bn": "#eeeeee", "lrn": "#eeeeee",
    "maxpool": "#fce5cd", "avgpool": "#fce5cd",
    "adaptive_avgpool": "#fce5cd", "adaptive_maxpool": "#fce5cd",
    "add": "#fff2cc", "concat": "#fff2cc", "mul": "#fff2cc", "block": "#d9d2e9", "input": "#ffffff",
    "dropout": "#f3f3f3", "flatten": "#f3f3f3", "softmax": "#f4cccc",
    "layernorm": "#eeeeee", "groupnorm": "#eeeeee", "instancenorm": "#eeeeee",
    "drop_path": "#f3f3f3", "slice": "#f3f3f3", "channel_shuffle": "#f3f3f3",
}
FONT = "Helvetica"
# ordering=out: a node's successors left to right as listed; newrank: a rank may
# cross cluster borders, so branches inside different block calls can be lined up
GRAPH = {"labelloc": "t", "fontname": FONT, "fontsize": 14, "rankdir": "TB", "ordering": "out",
         "newrank": "true", "nodesep": 0.3, "ranksep": 0.35}
NODE = {"shape": "box", "style": "rounded,filled", "fontname": FONT, "fontsize": 10,
        "margin": "0.12,0.04", "height": 0.3}
EDGE = {"fontname": FONT, "fontsize": 8, "fontcolor": "#555555", "color": "#444444",
        "arrowsize": 0.6}
CLUSTER = {"labeljust": "l", "style": "rounded,dashed", "color": "#888888", "fontsize": 10,
           "fontcolor": "#555555", "fontname": FONT}


def _attrs(**attrs) -> str:
    return "[" + ", ".join(f"{key}={dot_string(str(value))}" for key, value in attrs.items()) + "]"


def box_label(box: Box) -> str:
    if box.kind == "input":
        return box.title
    if box.kind == "block":
        lines = [local_name(box.name), box.title]
    else:
        lines = [box.title]
    lines.append(" · ".join(part for part in (box.shape_text, box.params_text) if part))
    return "\n".join(lines)


def _node_line(box: Box) -> str:
    attrs = {"label": box_label(box), "tooltip": box.name, "fillcolor": FILL.get(box.op, "#ffffff")}
    if box.kind in MERGES:
        attrs["shape"] = "ellipse"
    if box.kind == "block":
        attrs["penwidth"] = "1.5"
    return f"{box.id} {_attrs(**attrs)};"


# the first line of every DOT file cnndsl writes: what `graph` may replace unasked
MARKER = "// Drawn by cnndsl (cnndsl graph)."


def drawn_by_cnndsl(path: Path) -> bool:
    """Whether the file at `path` is a DOT source cnndsl wrote."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.readline().rstrip("\n") == MARKER
    except OSError:
        return False


def to_dot(view: View) -> str:
    """The DOT source: boxes nested in their clusters, then every arrow."""
    lines = [
        MARKER,
        f"digraph {dot_string(view.name)} {{",
        f"  graph {_attrs(label=view.title, **GRAPH)};",
        f"  node {_attrs(**NODE)};",
        f"  edge {_attrs(**EDGE)};",
    ]
    lines += _nest(view, (), "  ")
    # branch sets that span clusters are lined up at the top (newrank lets a rank
    # cross cluster borders); those inside one cluster, in that cluster
    lines += [_chain(heads, "  ") for heads in view.branches
              if len({_path(box) for box in heads}) > 1]
    for arrow in view.arrows:
        lines.append(f"  {arrow.source} -> {arrow.target} {_attrs(label=' ' + arrow.label)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _path(box: Box) -> tuple[str, ...]:
    return tuple(f.name for f in box.clusters)


def _chain(heads: tuple[Box, ...], indent: str) -> str:
    """Parallel branches left to right in the spec's order: their first boxes on one
    rank, chained by invisible edges."""
    return f"{indent}{{ rank=same; {' -> '.join(box.id for box in heads)} [style=invis]; }}"


def _nest(view: View, path: tuple[str, ...], indent: str) -> list[str]:
    """The boxes and child clusters directly inside the cluster `path`."""
    boxes, frames = view.level(path)
    lines = [_chain(heads, indent) for heads in view.branches_at(path)]
    # boxes and clusters in the spec's order: dot starts from this order, and
    # with ordering=out keeps branches left to right as the spec lists them
    for item in sorted([*boxes, *frames], key=lambda item: view.first_index(item)):
        if isinstance(item, Box):
            lines.append(indent + _node_line(item))
            continue
        label = f"{local_name(item.name)}: {frame_label(item)}"
        lines.append(f"{indent}subgraph {cluster_id(item.name)} {{")
        lines.append(f"{indent}  graph {_attrs(label=label, **CLUSTER)};")
        lines += _nest(view, (*path, item.name), indent + "  ")
        lines.append(f"{indent}}}")
    return lines


def find_dot() -> str | None:
    return shutil.which("dot")


def render(view: View, output: Path, fmt: str, dot: str) -> list[str]:
    """Run Graphviz on the view, writing `output` in format `fmt` (svg, png, pdf).
    Returns notes for the user: Graphviz's own warnings (e.g. a PNG too large for
    its bitmaps, scaled down), and how many sets of parallel branches it drew out
    of the spec's left-to-right order (its crossing minimisation can swap branches
    that sit in different block clusters despite the ordering hints)."""
    source = to_dot(view)
    _, warnings = _run(dot, fmt, source, output)
    notes = [f"Graphviz: {line}" for line in warnings.splitlines() if line.strip()]
    if view.branches:
        misordered = _misordered(view, _run(dot, "plain", source)[0])
        if misordered:
            notes.append(f"Graphviz drew {misordered} set(s) of parallel branches out of the "
                         f"spec's left-to-right order")
    return notes


def _misordered(view: View, plain: str) -> int:
    """How many branch sets `dot -Tplain` output draws out of the spec's order."""
    x = {line.split()[1]: float(line.split()[2])
         for line in plain.splitlines() if line.startswith("node ")}
    return sum(1 for heads in view.branches
               if any(x.get(a.id, 0) >= x.get(b.id, 0) for a, b in zip(heads, heads[1:])))


def _run(dot: str, fmt: str, source: str, output: Path | None = None) -> tuple[str, str]:
    """dot's standard output and its warnings."""
    command = [dot, f"-T{fmt}"] + (["-o", str(output)] if output else [])
    result = subprocess.run(command, input=source.encode(), capture_output=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"dot failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")
