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

from cnndsl.backends.graph.collapse import Box, View, cluster_id, frame_label, local_name

# fill colour by op; ops not listed are drawn white
FILL = {
    "conv": "#cfe2f3", "fc": "#d9ead3", "bn": "#eeeeee", "lrn": "#eeeeee",
    "maxpool": "#fce5cd", "avgpool": "#fce5cd",
    "adaptive_avgpool": "#fce5cd", "adaptive_maxpool": "#fce5cd",
    "add": "#fff2cc", "concat": "#fff2cc", "block": "#d9d2e9", "input": "#ffffff",
    "dropout": "#f3f3f3", "flatten": "#f3f3f3", "softmax": "#f4cccc",
}
FONT = "Helvetica"
CLUSTER = {"labeljust": "l", "style": "rounded,dashed", "color": "#888888", "fontsize": 10,
           "fontcolor": "#555555", "fontname": FONT}


def quote(text: str) -> str:
    """A DOT double-quoted string; newlines become centred line breaks."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(**attrs) -> str:
    return "[" + ", ".join(f"{key}={quote(str(value))}" for key, value in attrs.items()) + "]"


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
    if box.kind in ("add", "concat"):
        attrs["shape"] = "ellipse"
    if box.kind == "block":
        attrs["penwidth"] = "1.5"
    return f"{box.id} {_attrs(**attrs)};"


def to_dot(view: View) -> str:
    """The DOT source: boxes nested in their clusters, then every arrow."""
    lines = [
        f"digraph {quote(view.name)} {{",
        f"  graph {_attrs(label=view.title, labelloc='t', fontname=FONT, fontsize=14, rankdir='TB', ordering='out', nodesep=0.3, ranksep=0.35)};",
        f"  node {_attrs(shape='box', style='rounded,filled', fontname=FONT, fontsize=10, margin='0.12,0.04', height=0.3)};",
        f"  edge {_attrs(fontname=FONT, fontsize=8, fontcolor='#555555', color='#444444', arrowsize=0.6)};",
    ]
    lines += _nest(view, (), "  ")
    for arrow in view.arrows:
        lines.append(f"  {arrow.source} -> {arrow.target} {_attrs(label=' ' + arrow.label)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _nest(view: View, path: tuple[str, ...], indent: str) -> list[str]:
    """The boxes directly inside the cluster `path`, then its child clusters."""
    boxes, frames = view.level(path)
    lines = [indent + _node_line(box) for box in boxes]
    for heads in view.branches_at(path):  # keep parallel branches in the spec's order
        chain = " -> ".join(box.id for box in heads)
        lines.append(f"{indent}{{ rank=same; {chain} [style=invis]; }}")
    for frame in frames:
        label = f"{local_name(frame.name)}: {frame_label(frame)}"
        lines.append(f"{indent}subgraph {cluster_id(frame.name)} {{")
        lines.append(f"{indent}  graph {_attrs(label=label, **CLUSTER)};")
        lines += _nest(view, (*path, frame.name), indent + "  ")
        lines.append(f"{indent}}}")
    return lines


def find_dot() -> str | None:
    return shutil.which("dot")


def render(source: str, output: Path, fmt: str, dot: str) -> None:
    """Run Graphviz on `source`, writing `output` in format `fmt` (svg, png, pdf)."""
    result = subprocess.run([dot, f"-T{fmt}", "-o", str(output)], input=source.encode(),
                            capture_output=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"dot failed: {result.stderr.decode(errors='replace').strip()}")
