"""One escaping function per output language: every user string (a name, a
path, a `--set` value, a class name read from the data) passes through the
function of the language it is written into, and nothing else escapes text.

    terminal(text)          diagnostics, tables and notes printed to a terminal
    python_text(text)       free text inside a Python comment or docstring
    python_doc_lines(text)  the same, wrapped into docstring lines
    python_string(text)     a Python string literal
    dot(text)               a Graphviz DOT double-quoted string
    mermaid(text)           the text of a Mermaid label, inside its double quotes
    markdown(text)          text in a Markdown table cell or heading
    json_text(value)        a JSON document (no NaN or Infinity, which JSON lacks)
    utf8_text(text)         a string field of a UTF-8-only format (ONNX's protobuf)

Each is property-tested over arbitrary strings (tests/test_escaping.py): the
Python compiles and means the same text, the DOT parses with pydot, a Mermaid
chart stays one fence with no raw '<' or '>', a terminal line holds no control
character.
"""

from __future__ import annotations

import json
import math
import unicodedata

# Unicode's bidirectional controls reorder what a terminal shows ("Trojan Source",
# CVE-2021-42574); a diagnostic must show the text as it is stored.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _unsafe(char: str, keep: str = "") -> bool:
    """Control characters (C0, DEL, C1), lone surrogates, bidi controls, and the
    line/paragraph separators that some programs treat as line breaks."""
    if char in keep:
        return False
    category = unicodedata.category(char)
    return category in ("Cc", "Cs", "Zl", "Zp") or char in _BIDI


def _spelled(char: str) -> str:
    """A character spelled out as Python writes it: \\x1b, \\u202e, \\udcff."""
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"


def terminal(text: object, keep: str = "\n") -> str:
    """`text` safe to print: every control character (ESC, BEL, CR, backspace ...),
    lone surrogate and bidi control is spelled out (ESC becomes \\x1b), so the
    spec or the data cannot move the cursor, recolour, retitle or hide anything.
    Characters in `keep` (by default the newline) pass unchanged."""
    return "".join(_spelled(c) if _unsafe(c, keep) else c for c in str(text))


def terminal_width(text: str) -> int:
    """How many columns `terminal(text, keep="")` takes (for carets under a line)."""
    return len(terminal(text, keep=""))


def python_text(text: object) -> str:
    """One line of printable ASCII for a comment or a docstring.

    Backslashes are doubled and everything else outside printable ASCII is
    spelled as an escape, so the text cannot end the comment or the docstring,
    start an escape sequence, or carry invisible characters; double quotes
    become single ones (a docstring's closing quotes cannot be formed)."""
    out = []
    for char in str(text):
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append("'")
        elif " " <= char <= "~":
            out.append(char)
        else:
            out.append("\\" + _spelled(char))  # doubled: the docstring shows \x1b
    return "".join(out)


def python_doc_lines(text: object, width: int) -> list[str]:
    """python_text(`text`) wrapped into lines of at most `width` characters.

    Lines break at spaces; a word longer than a line is cut between escapes,
    never inside one (textwrap would cut `\\\\x` from `ZZ` and write an invalid
    escape into the docstring)."""
    lines: list[str] = []
    line = ""
    for word in filter(None, str(text).split(" ")):
        units = [python_text(char) for char in word]  # an escape is one unit
        escaped = "".join(units)
        if line and len(line) + 1 + len(escaped) <= width:
            line += " " + escaped
            continue
        if line:
            lines.append(line)
            line = ""
        for unit in units:  # a word too long for one line is cut between units
            if line and len(line) + len(unit) > width:
                lines.append(line)
                line = ""
            line += unit
    if line or not lines:
        lines.append(line)
    return lines


def python_string(text: str) -> str:
    """A Python string literal that evaluates to exactly `text` (black's double
    quotes where nothing needs escaping)."""
    literal = repr(text)  # repr of a str is always a valid, closed literal
    if literal.startswith("'") and '"' not in text:
        literal = '"' + literal[1:-1] + '"'
    return literal


def dot(text: object) -> str:
    """A DOT double-quoted string showing `text` literally: backslashes doubled (so
    no \\N or \\l escape of Graphviz's applies), quotes escaped, '&' written as an
    entity (Graphviz decodes entities in labels), newlines as centred line
    breaks, and other control characters spelled out (SVG cannot hold them)."""
    out = []
    for char in str(text):
        if char == "\n":
            out.append("\\n")
        elif char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "&":
            out.append("&amp;")
        elif _unsafe(char):
            out.append("\\" + _spelled(char))
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


# Mermaid decodes #name; and #123; entity codes in labels and hands the label to
# the browser as HTML; it reads %%{...}%% as a directive anywhere in the text.
# Every character that could form markup, a directive or an entity, or end the
# label or the fence, is written as a numeric entity code.
_MERMAID_CODED = frozenset('"#&<>`|%')


def mermaid(text: object) -> str:
    """The text of a Mermaid label (between its double quotes): newlines become
    <br/>; quotes, '<', '>', '&', '#', '%', '|' and backticks entity codes (#60;);
    control characters spelled out.  The label cannot end early, inject HTML or
    a directive, or close the Markdown fence."""
    out = []
    for char in str(text):
        if char == "\n":
            out.append("<br/>")
        elif char in _MERMAID_CODED:
            out.append(f"#{ord(char)};")
        elif _unsafe(char):
            out.append("#92;" + _spelled(char)[1:])  # \\x1b, its backslash coded
        else:
            out.append(char)
    return "".join(out)


# what can start emphasis, code, a link or a strike-through, or end a table cell
_MARKDOWN_SPECIAL = frozenset("\\`*_[]|~")


def markdown(text: object) -> str:
    """Inline Markdown showing `text` literally: punctuation that Markdown or
    HTML would read is backslash-escaped (or an entity, for '<', '>', '&'),
    control characters are spelled out, and a line break becomes a space (a table
    row is one line)."""
    out = []
    for char in str(text):
        if char in "<>&":
            out.append({"<": "&lt;", ">": "&gt;", "&": "&amp;"}[char])
        elif char in _MARKDOWN_SPECIAL:
            out.append("\\" + char)
        elif char in "\n\r":
            out.append(" ")
        elif _unsafe(char):
            out.append("\\" + _spelled(char))
        else:
            out.append(char)
    return "".join(out)


def utf8_text(text: object) -> str:
    """`text` encodable as UTF-8: a lone surrogate (a file name's undecodable byte,
    as Python reads it) is spelled out, \\udcff."""
    return "".join(_spelled(c) if unicodedata.category(c) == "Cs" else c for c in str(text))


def json_text(value: object, indent: int | None = 1) -> str:
    """A JSON document for `value`; NaN and infinities, which JSON cannot hold,
    become null (docs/limits.md)."""
    return json.dumps(_finite(value), indent=indent, allow_nan=False)


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
