"""The JSON report: the stable machine interface described in DESIGN.md."""

from __future__ import annotations

from cnndsl.analysis import Analysis


def build_report(analysis: Analysis) -> dict:
    graph = analysis.graph
    total = analysis.total_params
    frozen = 0  # nothing is frozen in a spec; `cnndsl train --freeze` changes that at run time
    report = {
        "network": graph.name,
        "input": list(graph.input.shape),
        "output": list(graph.output_node.shape),
        "total_params": total,
        "trainable_params": total - frozen,
        "total_macs": analysis.total_macs,
        "layers": [
            {
                "name": s.node.name,
                "op": s.node.op,
                "output": list(s.node.shape),
                "params": s.cost.params,
                "macs": s.cost.macs,
                "receptive_field": list(s.receptive_field.size),
            }
            for s in analysis.layers
        ],
    }
    if graph.heads:  # only then: a single-output report keeps exactly the keys above
        # every output, the main one first; params and MACs of its own layers (the main
        # network's, or a head's), which add up to the totals; its loss's weight
        report["outputs"] = [{"name": o.name, "shape": list(o.shape), "params": o.params,
                              "macs": o.macs, "loss_weight": o.weight}
                             for o in analysis.by_output()]
    return report
