"""`net.graph()` in a notebook: a diagram that Jupyter shows as SVG.

    net = cnndsl.load("specs/resnet50.cnn")
    net.graph(depth=1)           # the last expression of a cell: drawn inline
    net.graph().svg()            # the SVG text;  .source: the DOT;  .mermaid()
    net.graph().save("net.svg")  # as `cnndsl graph -o net.svg`

The SVG comes from Graphviz's `dot` (the same DOT `cnndsl graph` renders).
Without `dot` on PATH the cell shows a message saying how to install it, with
the DOT source to render elsewhere; .svg() raises GraphvizMissing."""

from __future__ import annotations

import html

from cnndsl.backends.graph.collapse import build_view
from cnndsl.backends.graph.dot import _run, find_dot, to_dot
from cnndsl.backends.graph.mermaid import to_mermaid


class GraphvizMissing(RuntimeError):
    """net.graph().svg() without Graphviz's `dot` on PATH."""


class Diagram:
    """The diagram of one network at one depth."""

    def __init__(self, graph, depth: int | None = None):
        if depth is not None and (not isinstance(depth, int) or depth < 1):
            raise ValueError(f"depth must be a whole number >= 1 or None, got {depth!r}")
        self.graph, self.depth = graph, depth
        self.view = build_view(graph, depth)
        self.source = to_dot(self.view)

    def svg(self) -> str:
        from cnndsl.backends.graph import INSTALL_HINT
        dot = find_dot()
        if dot is None:
            raise GraphvizMissing(f"drawing {self.graph.name} as SVG needs Graphviz's `dot`, "
                                  f"which is not on PATH: {INSTALL_HINT}; .source holds the DOT "
                                  f"and .mermaid() a Mermaid chart, which need nothing")
        return _run(dot, "svg", self.source)[0]

    def mermaid(self) -> str:
        return to_mermaid(self.view, fence=False)

    def save(self, path) -> str:
        """Write the diagram as `cnndsl graph -o PATH` does; returns the path written."""
        from cnndsl.backends.graph import write_diagram
        return str(write_diagram(self.graph, path, self.depth).path)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """SVG when Graphviz is there, else an HTML note with the DOT source."""
        text = repr(self)
        try:
            return {"image/svg+xml": self.svg(), "text/plain": text}
        except GraphvizMissing as exc:
            note = (f"<p><b>cnndsl:</b> {html.escape(str(exc))}</p><details><summary>DOT "
                    f"source</summary><pre>{html.escape(self.source)}</pre></details>")
            return {"text/html": note, "text/plain": f"{text}\n{exc}"}

    def __repr__(self) -> str:
        depth = f", depth {self.depth}" if self.depth else ""
        return f"<Diagram of {self.graph.name}{depth}: {len(self.view.boxes)} boxes>"
