"""Channel bookkeeping: a slice of the channels, and ShuffleNet's channel shuffle."""

from __future__ import annotations

from cnndsl.errors import ShapeError
from cnndsl.ops import args as A
from cnndsl.ops.registry import Arg, OpDef, register
from cnndsl.ops.spatial import feature_map


def _optional_index(v):
    return None if v is None else A.non_negative_int(v)


def _slice_infer(a, inputs):
    c, *rest = inputs[0]
    start, end = a["start"], c if a["end"] is None else a["end"]
    if not start < end <= c:
        what = "channels" if rest else "features"
        halves = f"slice(0, {c // 2}) and slice({c // 2}) split {c} {what} in halves"
        raise ShapeError(f"slice({start}, {end}) needs 0 <= start < end <= {c}, the input's "
                         f"{what}", halves if c % 2 == 0 and c > 1 else None)
    return {**a, "end": end}, (end - start, *rest)


register(OpDef(
    name="slice",
    args=(Arg("start", A.non_negative_int, doc="first channel"),
          Arg("end", _optional_index, None, doc="one past the last channel; the end if omitted")),
    infer=_slice_infer, label=lambda a: f"slice {a['start']}:{a['end']}",
    doc="Channels start to end - 1 (features of a flat vector): ShuffleNetV2's channel split, "
        "DPN's dual paths.",
))


def _shuffle_infer(a, inputs):
    c, h, w = feature_map("channel_shuffle", inputs[0])
    if c % a["groups"]:
        raise ShapeError(f"channel_shuffle groups={a['groups']} must divide the {c} channels")
    return dict(a), inputs[0]


register(OpDef(
    name="channel_shuffle", args=(Arg("groups", A.positive_int, doc="groups to interleave"),),
    infer=_shuffle_infer, label=lambda a: f"channel_shuffle {a['groups']}",
    doc="Channel shuffle (Zhang et al. 2018, ShuffleNet, fig. 1): view the channels as groups x "
        "(C / groups), transpose, and flatten, so the next grouped layer mixes every group.",
))
