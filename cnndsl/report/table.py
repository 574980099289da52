"""Per-layer summary tables in the look of torchinfo and Keras summaries."""

from __future__ import annotations

from cnndsl.analysis import Analysis
from cnndsl.escape import markdown, terminal
from cnndsl.ir.graph import format_shape
from cnndsl.ops import OPS

COLUMNS = ("Layer", "Op", "Output", "Params", "MACs", "RF", "Jump")


def human(n: float, unit: str = "") -> str:
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= factor:
            return f"{n / factor:.2f}{suffix}{unit}"
    return f"{n:g}{unit}"


def _square(pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else format_shape(pair)


def rows(analysis: Analysis, depth: int | None = None) -> list[tuple[str, ...]]:
    """The table's cells, one tuple per row (collapsed below `depth`: report.depth)."""
    from cnndsl.report.depth import collapse
    return [_cells(row) for row in collapse(analysis, depth)]


def _cells(row) -> tuple[str, ...]:
    s = row.last
    node = s.node
    params, macs = row.total("params"), row.total("macs")
    op = (f"{row.block}: {len(row.layers)} layers" if row.collapsed
          else OPS[node.op].describe(dict(node.attrs)))
    return (row.name, op, format_shape(node.shape), f"{params:,}" if params else "-",
            human(macs) if macs else "-", _square(s.receptive_field.size),
            _square(s.receptive_field.jump))


def summary_lines(analysis: Analysis, batch: int = 1) -> list[str]:
    from cnndsl.report.summary import footer_lines, summary
    rf = analysis.output_field
    return [*footer_lines(summary(analysis, batch), format_shape(analysis.graph.input.shape),
                          human, f"{_square(rf.size)} (jump {_square(rf.jump)})"),
            *output_lines(analysis)]


def output_lines(analysis: Analysis) -> list[str]:
    """With output heads, every output and what its own layers cost (none without)."""
    outputs = analysis.by_output()
    if len(outputs) == 1:
        return []
    width = max(len(o.name) for o in outputs)
    lines = [f"Outputs ({len(outputs)}; params and MACs of each one's own layers, which add "
             f"up to the totals):"]
    for k, o in enumerate(outputs):
        role = "main: eval mode returns it" if k == 0 else f"head, loss weight {o.weight:g}"
        lines.append(f"  {o.name.ljust(width)}  {format_shape(o.shape)}  params {o.params:,}  "
                     f"MACs {o.macs:,} ({human(o.macs)})  [{role}]")
    return lines


def _outputs(graph) -> str:
    """The main output's shape, and each head's by name: `1000 (aux1 1000, aux2 1000)`."""
    heads = ", ".join(f"{h.name} {format_shape(graph.nodes[h.node].shape)}"
                      for h in graph.heads)
    return format_shape(graph.output_node.shape) + (f" (heads: {heads})" if heads else "")


RIGHT_ALIGNED = {3, 4, 5, 6}  # the numeric columns


def render_table(analysis: Analysis, header: tuple[str, ...] = COLUMNS,
                 body: list[tuple[str, ...]] | None = None, depth: int | None = None,
                 batch: int = 1) -> str:
    """The check table; `header`/`body` extend it with more columns (--connections);
    `depth` collapses blocks below it, `batch` scales the totals and sizes."""
    body = rows(analysis, depth) if body is None else body
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h)
              for i, h in enumerate(header)]

    def fmt(cells) -> str:
        return "  ".join(c.rjust(w) if i in RIGHT_ALIGNED else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "=" * len(fmt(header))
    g = analysis.graph
    lines = [f"{g.name} ({terminal(g.path)}), input {format_shape(g.input.shape)} -> output "
             f"{_outputs(g)}" + _qualifiers(depth, batch),
             rule, fmt(header), "-" * len(rule)]
    lines += [fmt(r) for r in body]
    lines += [rule, *summary_lines(analysis, batch), rule]
    return "\n".join(lines)


def _qualifiers(depth: int | None, batch: int) -> str:
    return ((f", depth {depth}" if depth is not None else "")
            + (f", batch {batch}" if batch != 1 else ""))


def render_markdown(analysis: Analysis, depth: int | None = None, batch: int = 1) -> str:
    g = analysis.graph
    lines = [f"### {g.name}", "", f"Input {format_shape(g.input.shape)}, output "
             f"{_outputs(g)}{_qualifiers(depth, batch)}.", "",
             "| " + " | ".join(COLUMNS) + " |",
             "|" + "|".join(["---", "---", "---", "---:", "---:", "---:", "---:"]) + "|"]
    for r in rows(analysis, depth):
        cells = [f"`{r[0]}`", *map(markdown, r[1:])]  # names are identifiers: no ` in them
        lines.append("| " + " | ".join(cells) + " |")
    # an indented summary line (one output of several) is a nested item
    lines += ["", *(f"  - {line.strip()}" if line.startswith("  ") else f"- {line}"
                    for line in summary_lines(analysis, batch))]
    return "\n".join(lines) + "\n"
