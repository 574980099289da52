"""The per-layer table with a "Connected to" column, like Keras' model.summary()
for functional models: where branches split and merge and where named skips
land, read from each node's inputs.

A layer with several inputs (add, concat) lists one input per line; the other
cells of its continuation lines stay blank.
"""

from __future__ import annotations

from cnndsl.analysis import Analysis
from cnndsl.report.table import COLUMNS, render_table, rows

CONNECTED = "Connected to"


def connection_rows(analysis: Analysis) -> list[tuple[str, ...]]:
    """table.rows plus a last cell naming each input; extra rows for extra inputs."""
    graph = analysis.graph
    blank = ("",) * len(COLUMNS)
    out: list[tuple[str, ...]] = []
    for row, stats in zip(rows(analysis), analysis.layers):
        sources = [graph.nodes[i].name for i in stats.node.inputs]
        out.append((*row, sources[0] if sources else ""))
        out += [(*blank, name) for name in sources[1:]]
    return out


def render_connections_table(analysis: Analysis, batch: int = 1) -> str:
    """`check --format table --connections`: the check table plus "Connected to"."""
    return render_table(analysis, (*COLUMNS, CONNECTED), connection_rows(analysis), batch=batch)
