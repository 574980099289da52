"""A Mermaid flowchart of a View, fenced for GitHub Markdown.

Same content as the DOT diagram: layer boxes coloured by op (the same
palette), merges as stadiums, collapsed blocks as subroutine boxes, expanded
block calls as subgraphs, arrows labelled with tensor shapes.
"""

from __future__ import annotations

from cnndsl.backends.graph.collapse import Box, View, cluster_id, frame_label, local_name
from cnndsl.backends.graph.dot import FILL
from cnndsl.escape import mermaid

# Mermaid's node shapes: (opening, closing) around the quoted label
SHAPES = {"layer": ('["', '"]'), "block": ('[["', '"]]'), "input": ('[/"', '"/]'),
          "add": ('(["', '"])'), "concat": ('(["', '"])'), "mul": ('(["', '"])')}


def _label(box: Box) -> str:
    lines = [local_name(box.name), box.title] if box.kind == "block" else [box.title]
    if box.kind != "input":
        lines.append(" · ".join(part for part in (box.shape_text, box.params_text) if part))
    return mermaid("\n".join(lines))


def to_mermaid(view: View, fence: bool = True) -> str:
    lines = [f"---\ntitle: {mermaid(view.title)}\n---", "flowchart TB"]
    lines += _nest(view, (), "  ")
    for arrow in view.arrows:
        lines.append(f'  {arrow.source} -->|"{mermaid(arrow.label)}"| {arrow.target}')
    by_op: dict[str, list[str]] = {}
    for box in view.boxes:
        if box.op in FILL:
            by_op.setdefault(box.op, []).append(box.id)
    for op, ids in by_op.items():
        lines.append(f"  classDef {op} fill:{FILL[op]},stroke:#444")
        lines.append(f"  class {','.join(ids)} {op}")
    body = "\n".join(lines) + "\n"
    return f"```mermaid\n{body}```\n" if fence else body


def _nest(view: View, path: tuple[str, ...], indent: str) -> list[str]:
    boxes, frames = view.level(path)
    lines = []
    for box in boxes:
        opening, closing = SHAPES[box.kind]
        lines.append(f"{indent}{box.id}{opening}{_label(box)}{closing}")
    for frame in frames:
        label = mermaid(f"{local_name(frame.name)}: {frame_label(frame)}")
        lines.append(f'{indent}subgraph {cluster_id(frame.name)} ["{label}"]')
        lines += _nest(view, (*path, frame.name), indent + "  ")
        lines.append(f"{indent}end")
    return lines
