"""Pointwise activations and dropout: shape-preserving, no parameters."""

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


register(OpDef(name="softmax", args=(), infer=_same,
               other_ops=_elementwise(3), doc="Softmax over channels (classes)."))


def _dropout_infer(a, inputs):
    if a["p"] >= 1.0:
        raise ShapeError("dropout probability must be below 1")
    return dict(a), inputs[0]


register(OpDef(name="dropout", args=(Arg("p", A.probability, 0.5),), infer=_dropout_infer,
               label=lambda a: f"dropout {a['p']:g}",
               doc="Dropout (identity at inference)."))
