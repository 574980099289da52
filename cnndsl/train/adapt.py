"""Fitting a spec and a data set together, before any training starts.

- Input: the spec must take images (C x H x W).  Images of another H x W are
  resized to the spec's (bilinear, on the device); another channel count is an
  error, since no resize can invent or drop colour channels.
- Classes: the spec's output must be a vector of one score per class.  If its
  length differs from the data's class count and the network has a `classes`
  parameter that the user did not set, the network is rebuilt with
  ``classes = <data's count>`` (and a note says so); if it still differs (the
  last layer is `fc(1)` or `fc(classes * 2)`), or cannot be rebuilt, it is an
  error: a head of another size would train on scores no class owns.
- A data set needs at least two classes: with one, every prediction is right
  and nothing is learnt.
"""

from __future__ import annotations

from cnndsl.ir.graph import format_shape
from cnndsl.network import Network, load
from cnndsl.train.data import DataSet
from cnndsl.train.errors import DataError


def load_network(spec: str, input: str | None, params: dict) -> Network:
    net = load(spec, input=input, params=params or None)
    if len(net.input_shape) != 3:
        raise DataError(f"{spec}: training needs an image input CxHxW, the spec takes "
                        f"{format_shape(net.input_shape)}")
    if len(net.output_shape) != 1:
        raise DataError(f"{spec}: training needs one score per class at the output, the spec "
                        f"outputs {format_shape(net.output_shape)}",
                        hint="end the network with flatten and fc(classes)")
    return net


def fit_network(net: Network, data: DataSet, spec: str, input: str | None, params: dict,
                notes: list[str]) -> Network:
    """Check `data` against `net`; returns `net` or a rebuilt one with the data's class count."""
    channels = net.input_shape[0]
    if data.channels != channels:
        raise DataError(f"{spec} takes {channels}-channel input "
                        f"({format_shape(net.input_shape)}), {data.source} has "
                        f"{data.channels}-channel images",
                        hint="change the spec's input (or --input) to match the data")
    wanted, have = len(data.classes), net.output_shape[0]
    if wanted < 2:
        raise DataError(f"{data.source} has {wanted} class{'es' * (wanted != 1)} "
                        f"({', '.join(map(repr, data.classes[:1]))}): a classifier needs at least "
                        f"two, or every prediction is right and nothing is learnt",
                        hint="add the other classes' images (one folder per class)")
    if wanted == have:
        return net
    bound = dict(net.graph.params)
    if "classes" in bound and (params or {}).get("classes", wanted) == wanted:
        rebuilt = net if bound["classes"] == wanted else load_network(
            spec, input, {**(params or {}), "classes": wanted})
        if rebuilt.output_shape[0] == wanted:
            notes.append(f"note: {data.source} has {wanted} classes; building {net.name} "
                         f"with classes={wanted} (the spec's default is {bound['classes']})")
            return rebuilt
        raise DataError(f"{spec} outputs {_scores(rebuilt.output_shape[0])} per image with "
                        f"classes={wanted}, but {data.source} has {wanted} classes: its last "
                        f"layer does not make one score per class",
                        hint="end the network with fc(classes)")
    raise DataError(f"{spec} outputs {_scores(have)} per image, {data.source} has {wanted} "
                    f"classes", hint=f"use --set classes={wanted}" if "classes" in bound
                    else "give the network a `classes` parameter or change its last fc")


def _scores(n: int) -> str:
    return f"{n} score{'s' * (n != 1)}"
