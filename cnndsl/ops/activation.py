"""Pointwise activations and dropout: shape-preserving; only PReLU has parameters."""

from __future__ import annotations

from math import prod

from cnndsl.errors import ShapeError
from cnndsl.ops import args as A
from cnndsl.ops.registry import Arg, OpDef, register


def _same(a, inputs):
    return dict(a), inputs[0]


def _elementwise(per_element):
    return lambda a, inputs, out: per_element * prod(inputs[0])


def _pointwise(name, doc, args=(), ops_per_element=1, aliases=(), label=None):
    register(OpDef(name=name, args=args, infer=_same, other_ops=_elementwise(ops_per_element),
                   doc=doc, aliases=aliases, label=label))


_pointwise("relu", "Rectified linear unit, max(0, x).")
_pointwise("relu6", "ReLU clipped at 6 (MobileNet).", ops_per_element=2)
_pointwise("leaky_relu", "Leaky ReLU, max(slope*x, x).",
           args=(Arg("slope", A.number, 0.01),), ops_per_element=2, aliases=("leakyrelu",),
           label=lambda a: f"leaky_relu {a['slope']:g}")
_pointwise("sigmoid", "Logistic sigmoid.", ops_per_element=4)
_pointwise("tanh", "Hyperbolic tangent.", ops_per_element=4)
# MobileNetV3 (Howard et al. 2019, sec. 5.2): x * relu6(x + 3) / 6 and relu6(x + 3) / 6
_pointwise("hardswish", "Hard swish, x * relu6(x + 3) / 6 (MobileNetV3).", ops_per_element=4,
           aliases=("hard_swish",))
_pointwise("hardsigmoid", "Hard sigmoid, relu6(x + 3) / 6 (MobileNetV3's gates).",
           ops_per_element=3, aliases=("hard_sigmoid",))
# Ramachandran et al. 2017 (swish), Elfwing et al. 2018 (SiLU): the same function
_pointwise("silu", "SiLU / swish, x * sigmoid(x) (EfficientNet).", ops_per_element=5,
           aliases=("swish",))
_pointwise("gelu", "GELU, x * Phi(x) (Hendrycks & Gimpel 2016); approximate=\"tanh\" is the "
           "paper's tanh approximation.",
           args=(Arg("approximate", A.choice("none", "tanh"), "none"),), ops_per_element=8,
           label=lambda a: "gelu" if a["approximate"] == "none" else "gelu tanh")
_pointwise("elu", "ELU, x if x > 0 else alpha * (exp(x) - 1) (Clevert et al. 2016).",
           args=(Arg("alpha", A.number, 1.0),), ops_per_element=4,
           label=lambda a: "elu" if a["alpha"] == 1.0 else f"elu {a['alpha']:g}")
_pointwise("mish", "Mish, x * tanh(softplus(x)) (Misra 2019).", ops_per_element=6)


def _prelu_params(a, inputs, out) -> int:
    return 1 if a["shared"] else inputs[0][0]  # one slope, or one per channel


register(OpDef(
    name="prelu",
    args=(Arg("init", A.number, 0.25, doc="the slopes' initial value"),
          Arg("shared", A.boolean, False, doc="one slope for all channels")),
    infer=_same, params=_prelu_params, other_ops=_elementwise(2),
    label=lambda a: "prelu shared" if a["shared"] else "prelu",
    doc="Parametric ReLU, max(0, x) + a * min(0, x) with a learnt slope a per channel "
        "(He et al. 2015), or one shared slope.",
))


register(OpDef(name="softmax", args=(), infer=_same,
               other_ops=_elementwise(3), doc="Softmax over channels (classes)."))


def _dropout_infer(a, inputs):
    if a["p"] >= 1.0:
        raise ShapeError("dropout probability must be below 1")
    return dict(a), inputs[0]


register(OpDef(name="dropout", args=(Arg("p", A.probability, 0.5),), infer=_dropout_infer,
               label=lambda a: f"dropout {a['p']:g}",
               doc="Dropout (identity at inference)."))
