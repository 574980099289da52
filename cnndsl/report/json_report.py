"""The JSON report: the stable machine interface described in DESIGN.md, with
every figure the check table shows (docs/report.schema.json describes it)."""

from __future__ import annotations

from cnndsl.analysis import Analysis
from cnndsl.ops import OPS
from cnndsl.report.summary import _number, summary

SCHEMA = "docs/report.schema.json"


def build_report(analysis: Analysis, warnings=(), batch: int = 1,
                 depth: int | None = None) -> dict:
    """The report as a dict.  The first keys are the original contract (network,
    input, output, totals, layers with name/op/output/params/macs/receptive_field);
    the rest were added beside them: nothing was renamed."""
    graph = analysis.graph
    s = summary(analysis, batch)
    report = {
        "network": graph.name,
        "input": list(graph.input.shape),
        "output": list(graph.output_node.shape),
        "total_params": s["total_params"],
        "trainable_params": s["trainable_params"],
        "total_macs": s["macs"],
        "layers": [_layer(stats, graph) for stats in analysis.layers],
        "path": graph.path,
        # every output, the main one first (then each head): params and MACs of its own
        # layers (the main network's, or a head's), adding up to the totals; its loss weight
        "outputs": [{"name": o.name, "shape": list(o.shape), "params": o.params, "macs": o.macs,
                     "loss_weight": o.weight} for o in analysis.by_output()],
        "summary": s,
        "warnings": [_warning(w) for w in warnings],
    }
    if depth is not None:
        report["depth"] = depth
        report["rows"] = _rows(analysis, depth)
    return report


def _layer(stats, graph) -> dict:
    node, cost, field = stats.node, stats.cost, stats.receptive_field
    return {
        "name": node.name,
        "op": node.op,
        "output": list(node.shape),
        "params": cost.params,
        "macs": cost.macs,
        "receptive_field": list(field.size),
        "describe": OPS[node.op].describe(dict(node.attrs)),
        "jump": [_number(j) for j in field.jump],
        "buffers": cost.buffers,
        "other_ops": cost.other_ops,
        "fvcore_macs": cost.macs + cost.fvcore_extra,
        "activation_bytes": stats.activation_bytes,
        "inputs": [graph.nodes[i].name for i in node.inputs],  # --connections
    }


def _rows(analysis: Analysis, depth: int) -> list[dict]:
    """The rows of `check --depth N`, with their subtotals."""
    from cnndsl.report.depth import collapse
    out = []
    for row in collapse(analysis, depth):
        last = row.last
        out.append({"name": row.name, "block": row.block, "layers": len(row.layers),
                    "output": list(last.node.shape), "params": row.total("params"),
                    "buffers": row.total("buffers"), "macs": row.total("macs"),
                    "other_ops": row.total("other_ops"),
                    "activation_bytes": row.activation_bytes,
                    "receptive_field": list(last.receptive_field.size),
                    "jump": [_number(j) for j in last.receptive_field.jump]})
    return out


def _warning(diagnostic) -> dict:
    span = diagnostic.span
    return {"message": diagnostic.message, "hint": diagnostic.hint,
            "path": span.path if span else None, "line": span.line if span else None,
            "column": span.column if span else None}
