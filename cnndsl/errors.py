"""Diagnostics: every problem cnndsl reports points at a span of a .cnn file.

All errors derive from :class:`SpecError`; its ``str()`` is the rendered
diagnostic (``path:line:col: error: message``, the source line, a caret, a hint),
which is exactly what the command line prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from cnndsl.escape import terminal, terminal_width


@dataclass(frozen=True)
class Span:
    """A region of a source file; lines and columns are 1-based."""

    path: str
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


# Source text by path, so a diagnostic can quote its line without re-reading
# a file that may have changed (or never existed, for specs given as strings).
_SOURCES: dict[str, str] = {}


def remember_source(path: str, text: str) -> None:
    _SOURCES[path] = text


def source_text(path: str) -> str:
    return _SOURCES.get(path, "")


def source_line(span: Span) -> str | None:
    """The line `span` starts on, from text that was parsed as a spec; never read
    from disk here, so a diagnostic cannot quote a file that is not a spec."""
    text = _SOURCES.get(span.path)
    if text is None:
        return None
    lines = text.splitlines()
    if 1 <= span.line <= len(lines):
        return lines[span.line - 1]
    return None


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # "error" or "warning"
    message: str
    span: Span | None
    hint: str | None = None
    notes: tuple[tuple[Span, str], ...] = field(default=())

    def with_note(self, span: Span, text: str) -> "Diagnostic":
        return replace(self, notes=(*self.notes, (span, text)))

    def render(self) -> str:
        """The diagnostic as printed; every character from the spec, the data or the
        command line passes through cnndsl.escape.terminal, so none can drive the
        terminal (ESC, BEL, CR ...)."""
        where = f"{terminal(self.span)}: " if self.span else ""
        out = [f"{where}{self.severity}: {terminal(self.message)}"]
        if self.span:
            out += _quote(self.span)
        for span, text in self.notes:
            out.append(f"{terminal(span)}: note: {terminal(text)}")
            out += _quote(span)
        if self.hint:
            out.append(f"  hint: {terminal(self.hint)}")
        return "\n".join(out)


def _quote(span: Span) -> list[str]:
    line = source_line(span)
    if line is None:
        return []
    line = line.expandtabs(1)
    width = 1
    if span.end_line == span.line and span.end_column > span.column:
        width = span.end_column - span.column
    width = max(1, min(width, len(line) - span.column + 1, QUOTE_WIDTH // 2))
    begin = max(0, span.column - 1 - QUOTE_WIDTH // 2)  # a long line shows a window of itself
    end = span.column - 1 + width + QUOTE_WIDTH // 2
    shown = ("…" if begin else "") + line[begin:end] + ("…" if end < len(line) else "")
    # the caret goes under the escaped text: a spelled-out \x1b is four columns wide
    start = ("…" if begin else "") + line[begin:span.column - 1]
    marked = line[span.column - 1:span.column - 1 + width]
    return [f"  {terminal(shown, keep='')}",
            "  " + " " * terminal_width(start) + "^" + "~" * (terminal_width(marked) - 1)]


QUOTE_WIDTH = 160  # characters of a source line a diagnostic quotes at most


class SpecError(Exception):
    """An invalid spec. ``diagnostics`` holds every error found (at least one)."""

    def __init__(self, message: str, span: Span | None = None, hint: str | None = None,
                 notes: tuple[tuple[Span, str], ...] = ()):
        self.diagnostics = [Diagnostic("error", message, span, hint, notes)]
        super().__init__(message)

    @property
    def span(self) -> Span | None:
        return self.diagnostics[0].span

    @property
    def message(self) -> str:
        return self.diagnostics[0].message

    def __str__(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)


class ShapeError(Exception):
    """Raised by op rules, which know no spans; the elaborator adds the span."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
