"""Architecture diagrams from the IR: Graphviz DOT (rendered to SVG/PNG/PDF by
`dot` when it is installed) and Mermaid flowcharts for Markdown.

    view = build_view(net.graph, depth=1)   # collapse block calls below depth 1
    to_dot(view), to_mermaid(view)          # the diagram sources
    write_diagram(net.graph, "net.svg")     # pick the format from the suffix
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cnndsl.backends.graph.collapse import Arrow, Box, View, build_view
from cnndsl.backends.graph.dot import drawn_by_cnndsl, find_dot, render, to_dot
from cnndsl.backends.graph.mermaid import to_mermaid
from cnndsl.files import Outputs
from cnndsl.ir.graph import Graph

# output suffix -> what is written
RENDERED = ("svg", "png", "pdf")  # by Graphviz
SOURCES = ("dot", "gv", "md", "mmd")  # written directly
SUFFIXES = RENDERED + SOURCES

INSTALL_HINT = ("install Graphviz (`apt-get install graphviz`, `brew install graphviz`, "
                "or https://graphviz.org/download/)")


@dataclass(frozen=True)
class Written:
    """What write_diagram produced: the file, and whether it is the one asked for."""

    path: Path
    rendered: bool  # False when Graphviz was missing and only the .dot was written
    notes: tuple[str, ...] = ()  # what the reader of the diagram should know


# GitHub's Mermaid refuses charts with more edges than this ("Too many edges")
MERMAID_MAX_EDGES = 500


def fallback_path(path: str | Path) -> Path:
    """Where the .dot goes when Graphviz is missing."""
    return Path(path).with_suffix(".dot")


def diagram_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in SUFFIXES:
        raise ValueError(f"cannot tell the diagram format from {str(path)!r}: "
                         f"use one of {', '.join('.' + s for s in SUFFIXES)}")
    return suffix


def write_diagram(graph: Graph, path: str | Path, depth: int | None = None,
                  outputs: Outputs | None = None) -> Written:
    """Write the diagram of `graph` to `path` in the format its suffix names
    (atomically, through `outputs`: cnndsl.files).

    For .svg/.png/.pdf without Graphviz on PATH, writes the .dot next to `path`
    instead and returns Written(dot_path, rendered=False); that .dot replaces only
    a DOT file cnndsl wrote."""
    path = Path(path)
    outputs = outputs or Outputs()
    fmt = diagram_format(path)
    view = build_view(graph, depth)
    if fmt in ("md", "mmd"):
        outputs.write(path, to_mermaid(view, fence=fmt == "md"))
        notes = ()
        if len(view.arrows) > MERMAID_MAX_EDGES:
            notes = (f"the chart has {len(view.arrows)} arrows; GitHub's Mermaid draws at most "
                     f"{MERMAID_MAX_EDGES}: collapse blocks with --depth",)
        return Written(path, True, notes)
    source = to_dot(view)
    if fmt in ("dot", "gv"):
        outputs.write(path, source)
        return Written(path, True)
    dot = find_dot()
    if dot is None:
        fallback = fallback_path(path)
        outputs.write(fallback, source, named=False, owned=drawn_by_cnndsl)
        return Written(fallback, False)
    notes: list[str] = []
    outputs.write(path, lambda temp: notes.extend(render(view, temp, fmt, dot)))
    return Written(path, True, tuple(notes))


__all__ = ["Arrow", "Box", "View", "Written", "build_view", "diagram_format", "drawn_by_cnndsl",
           "fallback_path",
           "find_dot", "to_dot",
           "to_mermaid", "write_diagram", "INSTALL_HINT"]
