"""cnndsl spans and diagnostics as LSP ranges and diagnostics.

Spans count lines and columns from 1 in characters; LSP positions count from 0 in
the code units the client asked for (UTF-16 by default), so a line with an emoji
or a '×' before a layer still puts the squiggle under the layer.
"""

from __future__ import annotations

from lsprotocol import types
from pygls import uris
from pygls.workspace.position_codec import PositionCodec

from cnndsl.errors import Diagnostic, Span

SEVERITY = {"error": types.DiagnosticSeverity.Error,
            "warning": types.DiagnosticSeverity.Warning}


def path_of(uri: str) -> str:
    return uris.to_fs_path(uri) or uri


def uri_of(path: str) -> str:
    return path if ":" in path.split("/", 1)[0] else (uris.from_fs_path(path) or path)


class Converter:
    """Ranges in one client's position encoding, from the texts of the checked files."""

    def __init__(self, codec: PositionCodec, texts: dict[str, str]):
        self.codec = codec
        self.texts = texts
        self._lines: dict[str, list[str]] = {}

    def lines(self, path: str) -> list[str]:
        lines = self._lines.get(path)
        if lines is None:
            lines = self._lines[path] = self.texts.get(path, "").splitlines()
        return lines

    def position(self, path: str, line: int, column: int) -> types.Position:
        """(1-based line, 1-based column) -> an LSP position."""
        lines = self.lines(path)
        line0 = max(0, line - 1)
        if line0 >= len(lines):
            return types.Position(line=line0, character=max(0, column - 1))
        return self.codec.position_to_client_units(
            lines, types.Position(line=line0, character=min(max(0, column - 1),
                                                               len(lines[line0]))))

    def range(self, span: Span | None) -> types.Range:
        if span is None:
            return types.Range(types.Position(line=0, character=0),
                               types.Position(line=0, character=1))
        start = self.position(span.path, span.line, span.column)
        if span.end_line and (span.end_line, span.end_column) > (span.line, span.column):
            end = self.position(span.path, span.end_line, span.end_column)
        else:
            end = self.position(span.path, span.line, span.column + 1)
        return types.Range(start, end)

    def location(self, span: Span) -> types.Location:
        return types.Location(uri=uri_of(span.path), range=self.range(span))

    def diagnostic(self, d: Diagnostic, at: Span | None = None,
                   related: tuple[tuple[Span, str], ...] = ()) -> types.Diagnostic:
        """`d` as an LSP diagnostic at its own span (or at `at`), its notes (the call
        chain first among them) as related information, its hint in the message."""
        message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
        notes = (*related, *d.notes)
        return types.Diagnostic(
            range=self.range(at or d.span), message=message, severity=SEVERITY[d.severity],
            source="cnndsl",
            related_information=[types.DiagnosticRelatedInformation(
                location=self.location(span), message=text) for span, text in notes] or None)

    def to_client(self, path: str, position: types.Position) -> tuple[int, int]:
        """An LSP position in `path` -> (1-based line, 1-based column)."""
        lines = self.lines(path)
        if not lines:
            return position.line + 1, position.character + 1
        server = self.codec.position_from_client_units(  # (it may clamp its argument)
            lines, types.Position(line=position.line, character=position.character))
        return server.line + 1, server.character + 1
