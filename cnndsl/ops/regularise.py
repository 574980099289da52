"""Stochastic depth: drop a whole residual branch in training."""

from __future__ import annotations

from cnndsl.ops import args as A
from cnndsl.ops.registry import Arg, OpDef, register


def _same(a, inputs):
    return dict(a), inputs[0]


register(OpDef(
    name="drop_path",
    # the rate may use block.count, known once the whole network is elaborated (late=True)
    args=(Arg("p", A.probability, doc="the probability of dropping the branch", late=True),
          Arg("mode", A.choice("row", "batch"), "row",
              doc='"row": per sample; "batch": the whole batch at once')),
    infer=_same, label=lambda a: f"drop_path {a['p']:.4g}" + (
        ", batch" if a["mode"] == "batch" else ""),
    aliases=("stochastic_depth",),
    doc="Stochastic depth (Huang et al. 2016) as torchvision's StochasticDepth: in training, "
        "zero the input with probability p, per sample (mode \"row\") or for the whole batch "
        "(\"batch\"), and scale what survives by 1 / (1 - p); the identity at inference.",
))
