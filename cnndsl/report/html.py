"""The check table as HTML, for Jupyter (`Network._repr_html_`): the rows of
`cnndsl check` and its footer, every string escaped."""

from __future__ import annotations

from html import escape

from cnndsl.analysis import Analysis
from cnndsl.ir.graph import format_shape
from cnndsl.report.table import COLUMNS, RIGHT_ALIGNED, rows, summary_lines

STYLE = "border-collapse:collapse;font-family:monospace;font-size:12px"


def render_html(analysis: Analysis, depth: int | None = None, batch: int = 1) -> str:
    g = analysis.graph
    head = "".join(f"<th style='text-align:{_align(i)};padding:0 6px'>{escape(h)}</th>"
                   for i, h in enumerate(COLUMNS))
    body = "\n".join(
        "<tr>" + "".join(f"<td style='text-align:{_align(i)};padding:0 6px'>{escape(c)}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows(analysis, depth))
    footer = "".join(f"<li>{escape(line.strip())}</li>" for line in summary_lines(analysis, batch))
    title = (f"{g.name} ({g.path}), input {format_shape(g.input.shape)} -> output "
             f"{format_shape(g.output_node.shape)}")
    return (f"<div><p><b>{escape(title)}</b></p>\n<table style='{STYLE}'>\n<thead><tr>{head}"
            f"</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>\n<ul style='{STYLE}'>{footer}"
            f"</ul></div>")


def _align(column: int) -> str:
    return "right" if column in RIGHT_ALIGNED else "left"
