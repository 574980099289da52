"""Inlay hints: the output shape at the end of each layer or block-call line
(`-> 128x28x28`), from the last statement that ends on the line.  A line inside a
block runs once per call; its hint lists the distinct shapes in call order."""

from __future__ import annotations

from lsprotocol import types

from cnndsl.ir.graph import format_shape
from cnndsl.lsp.index import Anchor

MAX_SHAPES = 4


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLAY_HINT, types.InlayHintOptions())
    def inlay_hints(ls, params: types.InlayHintParams):
        if not ls.settings.inlay_hints:
            return []
        uri = params.text_document.uri
        own = ls.fresh(uri)
        built = ls.context(uri)
        if built.graph is None:
            return []
        convert = ls.converter(own)
        first, last = params.range.start.line + 1, params.range.end.line + 1
        hints = []
        for anchor in line_ends(built.index.anchors(own.path)):
            line = anchor.span.end_line or anchor.span.line
            if not first <= line <= last:
                continue
            hints.append(types.InlayHint(
                position=convert.position(own.path, line, anchor.span.end_column),
                label=label(built, anchor), kind=types.InlayHintKind.Type, padding_left=True))
        return hints


def line_ends(anchors: list[Anchor]) -> list[Anchor]:
    """Per line, the anchor that ends last on it (a merge's '}' after its branches,
    the last of `conv; bn; relu`)."""
    best: dict[int, Anchor] = {}
    for anchor in anchors:
        if not anchor.outputs():
            continue
        line = anchor.span.end_line or anchor.span.line
        current = best.get(line)
        if current is None or anchor.span.end_column > current.span.end_column or (
                anchor.span.end_column == current.span.end_column and
                anchor.span.line < current.span.line):
            best[line] = anchor
    return [best[line] for line in sorted(best)]


def label(built, anchor: Anchor) -> str:
    shapes: list[str] = []
    for i in anchor.outputs():
        shape = format_shape(built.index.node(i).shape)
        if shape not in shapes:
            shapes.append(shape)
    shown = " | ".join(shapes[:MAX_SHAPES]) + (" | …" if len(shapes) > MAX_SHAPES else "")
    return f"-> {shown}"
