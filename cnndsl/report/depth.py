"""`check --depth N`: layers below depth N collapsed into one row per block,
with subtotals, as torchinfo's `depth` shows modules.

Depth counts the dotted parts of a layer's hierarchical name
(``bottleneck_stage2.bottleneck1.conv2`` is at depth 3): a layer at depth N or
less keeps its row; consecutive layers whose names share the same first N parts
become one row named by those parts, with the sum of their parameters, buffers,
MACs, other ops and activations, and the output shape, receptive field and jump
of the last of them.  Only the names are read, not how they are made."""

from __future__ import annotations

from dataclasses import dataclass, field

from cnndsl.analysis import Analysis, LayerStats


@dataclass
class Row:
    """One table row: a layer, or a block of `layers` collapsed into one."""

    name: str
    layers: list[LayerStats] = field(default_factory=list)
    block: str | None = None  # the block definition's name, for a collapsed row

    @property
    def last(self) -> LayerStats:
        return self.layers[-1]

    @property
    def collapsed(self) -> bool:
        return self.block is not None

    def total(self, what: str) -> int:
        return sum(getattr(s.cost, what) for s in self.layers)

    @property
    def activation_bytes(self) -> int:
        return sum(s.activation_bytes for s in self.layers)


def collapse(analysis: Analysis, depth: int | None) -> list[Row]:
    """The table's rows at `depth` (None: every layer)."""
    rows: list[Row] = []
    for stats in analysis.layers:
        parts = stats.node.name.split(".")
        if depth is None or len(parts) <= depth:
            rows.append(Row(stats.node.name, [stats]))
            continue
        key = ".".join(parts[:depth])
        if rows and rows[-1].collapsed and rows[-1].name == key:
            rows[-1].layers.append(stats)
        else:
            rows.append(Row(key, [stats], _block(stats, key)))
    return rows


def _block(stats: LayerStats, key: str) -> str:
    """The name of the block definition whose call is `key`, where the IR says."""
    for frame in stats.node.scope:
        if frame.name == key:
            return frame.block
    return key.split(".")[-1].rstrip("0123456789") or "block"
