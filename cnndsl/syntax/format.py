"""`cnndsl fmt`: the canonical layout of a .cnn file, from its token stream.

The formatter keeps the author's lines: a statement per line, or `conv; bn; relu`
grouped on one line where the author grouped them, comments and (single) blank
lines where they were.  Within that it decides everything else:

- indentation: two spaces per '{' that ends its line; the lines of a body that
  starts on the '{' line (`path { conv(c, 3); bn` ...) line up under its first
  statement, as do the lines of an open '(' or '[' after its first item; a '}'
  or ')' starting a line goes back to the line that opened it; a continued line
  (after a trailing ',' or a backslash) is indented four more;
- spacing: one space after ',' and ';' and around operators, `->` and `=`,
  except `=` between a call's parentheses (`conv(64, 3, stride=2)`); none inside
  brackets, before '(' after a name, around '.'; a table's braces hug their items
  (`{"b0": 1.0}`, a '{' after '=', '(', ',' ...) and a table spanning lines
  indents its rows like a body; in a list or table, an item the author aligned
  after a ',' keeps its column where the line leaves room;
- a trailing comment keeps its column where the code leaves room (so aligned
  comments stay aligned), else it follows the code after two spaces;
- runs of blank lines become one; no blank lines at the start or end; no ';'
  at the end of a line.

It works from tokens and bracket nesting, not from the grammar's rules, so new
syntax keeps formatting (an unknown punctuation token keeps whether it had a
space before it).  It refuses a file that does not parse, and checks its own
output: the output must parse to the same syntax tree as the input.
"""

from __future__ import annotations

import dataclasses
import re

from lark import Token

from cnndsl.errors import Span, SpecError
from cnndsl.limits import SPEC_BYTES
from cnndsl.syntax.parser import parse_text
from cnndsl.syntax.tokens import BAD_CHARACTER, COMMENT, NEWLINE, all_tokens, is_continuation, \
    is_trivia

INDENT = 2
CONTINUATION = 4
COMMENT_GAP = 2

_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {")", "]", "}"}
_OPERATORS = {"COMPARE", "SIGN", "MULOP", "POWOP", "AND", "OR"}
# token types after which a '+' or '-' is binary (they end an operand)
_OPERAND_END = {"NAME", "INT", "FLOAT", "DIMS", "STRING", "TRUE", "FALSE"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# a '{' after one of these opens a table (a dict literal), not a body
_BEFORE_A_TABLE = {"(", "[", ",", "=", ":", "in", "not", "->"}


def format_text(text: str, path: str = "<string>") -> str:
    """The formatted text.  Raises SpecError if `text` does not parse."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom):]
    SPEC_BYTES.check(len(body.encode("utf-8", "surrogatepass")), Span(path, 1, 1))
    before = parse_text(body, path)
    formatted = _Formatter(body).run()
    try:
        after = parse_text(formatted, f"{path} (formatted)")
    except SpecError as exc:
        raise AssertionError(f"cnndsl fmt broke {path}: {exc}") from None
    if _meaning(before) != _meaning(after):
        raise AssertionError(f"cnndsl fmt would change what {path} means; please report it")
    return bom + formatted


def _meaning(node):
    """An AST without its source positions: what must not change."""
    if isinstance(node, Span):
        return None
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return (type(node).__name__, *(_meaning(getattr(node, f.name))
                                       for f in dataclasses.fields(node) if f.name != "path"))
    if isinstance(node, (tuple, list)):
        return tuple(_meaning(item) for item in node)
    return node


@dataclasses.dataclass
class _Line:
    tokens: list[Token]  # code tokens
    comment: Token | None = None
    continued: bool = False  # ends with a backslash
    blank_before: bool = False


@dataclasses.dataclass
class _Bracket:
    char: str
    content: int  # column (0-based) where continuation lines inside it start
    home: int  # indentation of the statement that opened it
    kind: str  # "params" (a block's or network's), "call", "body"


class _Formatter:
    def __init__(self, text: str):
        self.text = text
        self.newline = "\r\n" if "\r\n" in text.split("\n", 1)[0] + "\n" else "\n"
        self.tokens = all_tokens(text)
        code = [t for t in self.tokens if not is_trivia(t) and t.type != NEWLINE]
        self.previous = {id(t): code[i - 1] for i, t in enumerate(code) if i}
        self.stack: list[_Bracket] = []
        self.statement_indent = 0
        self.continue_next = False

    def run(self) -> str:
        out = []
        for line in self._lines():
            if line.blank_before and out:
                out.append("")
            out.append(self._render(line).rstrip())
        return self.newline.join(out) + self.newline if out else ""

    # ---- lines ----
    def _lines(self) -> list[_Line]:
        lines, current = [], _Line([])
        for tok in self.tokens:
            if tok.type == BAD_CHARACTER:
                raise SpecError(f"unexpected character {str(tok)!r}")
            if tok.type == NEWLINE or is_continuation(tok):
                current.continued = is_continuation(tok)
                if current.tokens or current.comment:
                    lines.append(current)
                current = _Line([])
            elif tok.type == COMMENT:
                current.comment = tok
            elif not is_trivia(tok):
                current.tokens.append(tok)
        if current.tokens or current.comment:
            lines.append(current)
        self._mark_blank_lines(lines)
        return self._drop_redundant_semicolons(lines)

    def _mark_blank_lines(self, lines: list[_Line]) -> None:
        """A line follows a blank line if the source has an empty line just above it."""
        source = self.text.splitlines()
        for k, line in enumerate(lines):
            first = line.tokens[0] if line.tokens else line.comment
            above = first.line - 2
            line.blank_before = k > 0 and above >= 0 and not source[above].strip()

    @staticmethod
    def _drop_redundant_semicolons(lines: list[_Line]) -> list[_Line]:
        depth, joined = 0, False  # joined: this line continues the one above (backslash)
        for line in lines:
            kept = []
            for tok in line.tokens:
                if tok.value == ";" and depth == 0 and (
                        kept[-1].value == ";" if kept else not joined):
                    continue
                kept.append(tok)
                if tok.value in ("(", "["):
                    depth += 1
                elif tok.value in (")", "]"):
                    depth = max(0, depth - 1)
            while kept and kept[-1].value == ";" and depth == 0 and not line.continued:
                kept.pop()
            line.tokens = kept
            joined = line.continued
        return [line for line in lines if line.tokens or line.comment]

    # ---- one line ----
    def _indent(self, line: _Line) -> int:
        first = line.tokens[0].value if line.tokens else None
        top = self.stack[-1] if self.stack else None
        if first in _CLOSERS and top is not None:
            return top.home
        if top is not None and top.kind != "body":
            return top.content
        if self.continue_next:
            return self.statement_indent + CONTINUATION
        return top.content if top is not None else 0

    def _render(self, line: _Line) -> str:
        indent = self._indent(line)
        if not line.tokens:  # a comment on its own line
            return " " * indent + line.comment.value.rstrip()
        if not self._in_parens() and not self.continue_next:
            self.statement_indent = indent
        out = " " * indent
        for i, tok in enumerate(line.tokens):
            if i:
                out += " " * self._space(line.tokens[i - 1], tok)
                out = self._aligned(line.tokens[i - 1], tok, out)
            out += tok.value
            self._bracket(tok, line.tokens[:i], out, last=i == len(line.tokens) - 1)
        if line.continued:
            out += " \\"
        self.continue_next = line.continued or (
            line.tokens[-1].value == "," and not self._in_parens())
        if line.comment is not None:
            column = line.comment.column - 1  # keep it where the code leaves room
            if column < len(out) + 1:
                column = len(out) + COMMENT_GAP
            out = out.ljust(column) + line.comment.value.rstrip()
        return out

    def _in_parens(self) -> bool:
        """Inside brackets of an expression (arguments, a list, a table), not a body."""
        return bool(self.stack) and self.stack[-1].kind != "body"

    def _aligned(self, prev: Token, tok: Token, out: str) -> str:
        """In a list or table, an item after ',' keeps the column the author aligned it
        at (two or more spaces in the source), where the line leaves room."""
        top = self.stack[-1] if self.stack else None
        if prev.value != "," or top is None or top.kind not in ("list", "table"):
            return out
        column = tok.column - 1
        if tok.start_pos - prev.end_pos >= 2 and column > len(out):
            return out.ljust(column)
        return out

    def _bracket(self, tok: Token, before: list[Token], out: str, last: bool) -> None:
        value = tok.value
        if value in _OPENERS:
            previous = self.previous.get(id(tok))
            table = value == "{" and previous is not None and (
                previous.type in _OPERATORS or previous.value in _BEFORE_A_TABLE) and not (
                previous.value == ":" and (not self.stack or self.stack[-1].kind == "body"))
            # (a ':' directly in a body ends a label: `stem: { conv; bn }` opens a body)
            if value == "{" and not table:
                content = self.statement_indent + INDENT if last else len(out) + 1
                kind = "body"
            elif value == "(":
                content = self.statement_indent + CONTINUATION if last else len(out)
                kind = "params" if _is_definition(before) else "call"
            else:  # a list or a table: its items, like a body's lines, two spaces in
                content = self.statement_indent + INDENT if last else len(out)
                kind = "list" if value == "[" else "table"
            self.stack.append(_Bracket(value, content, self.statement_indent, kind))
        elif value in _CLOSERS and self.stack:
            self.stack.pop()

    # ---- spacing between two tokens on a line ----
    def _space(self, prev: Token, tok: Token) -> int:
        a, b = prev.value, tok.value
        kind = self.stack[-1].kind if self.stack else "body"
        if b in (",", ";") or a in ("(", "[") or b in (")", "]") or "." in (a, b):
            return 0
        if kind == "table" and (a == "{" or b == "}"):
            return 0  # {"b0": 1.0, "b1": 1.1}
        if a in (",", ";", "{", "->") or b in ("{", "}", "->"):
            return 1
        if a == "=" or b == "=":
            return 0 if kind == "call" else 1
        if b == ":":
            return 0
        if a == ":":
            return 0 if self.stack and self.stack[-1].char == "[" else 1
        if prev.type == "SIGN" and self._unary(prev):
            return 0
        if b in ("(", "["):
            return 0 if prev.type == "NAME" or a in (")", "]") else 1
        if prev.type in _OPERATORS or tok.type in _OPERATORS:
            return 1
        if (_WORD.match(a) or prev.type in _OPERAND_END or a in _CLOSERS) and (
                _WORD.match(b) or tok.type in _OPERAND_END):
            return 1
        return 1 if tok.start_pos > prev.end_pos else 0  # punctuation we have no rule for

    def _unary(self, sign: Token) -> bool:
        before = self.previous.get(id(sign))
        return before is None or not (before.type in _OPERAND_END or before.value in (")", "]"))


def _is_definition(before: list[Token]) -> bool:
    """Whether a '(' opens the parameters of a block, network or function (`block b(`)."""
    return len(before) >= 2 and before[-1].type == "NAME" and before[-2].type in (
        "BLOCK", "NETWORK", "DEF")
