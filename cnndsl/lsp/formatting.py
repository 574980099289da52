"""Formatting: the whole document as `cnndsl fmt` would write it (cnndsl.syntax.format);
a document that does not parse is left as it is."""

from __future__ import annotations

from lsprotocol import types

from cnndsl.errors import SpecError
from cnndsl.syntax.format import format_text


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls, params: types.DocumentFormattingParams):
        doc = ls.workspace.get_text_document(params.text_document.uri)
        try:
            formatted = format_text(doc.source, doc.path or doc.uri)
        except SpecError:
            return None  # the diagnostics already say why it cannot be read
        if formatted == doc.source:
            return []
        lines = doc.source.splitlines(keepends=True)
        end = types.Position(line=len(lines), character=0)
        return [types.TextEdit(range=types.Range(types.Position(line=0, character=0), end),
                               new_text=formatted)]
