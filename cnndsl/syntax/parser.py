"""Parse .cnn text into an AST (cnndsl.syntax.ast), with spans and friendly errors."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from cnndsl.errors import Diagnostic, Span, SpecError, remember_source, source_text
from cnndsl.limits import STATEMENT_TOKENS
from cnndsl.syntax import ast
from cnndsl.syntax.tree_to_ast import TreeToAst

GRAMMAR_PATH = Path(__file__).resolve().parent.parent / "grammar" / "cnn.lark"
if not GRAMMAR_PATH.exists():  # source checkout: grammar/ sits beside the package
    GRAMMAR_PATH = Path(__file__).resolve().parents[2] / "grammar" / "cnn.lark"

# Tokens after which a line break cannot end a statement, and before which a
# pending separator is dropped so that `else`, `{` and `}` may start a new line.
class StatementTooLong(Exception):
    """Raised by the post-lexer; parse_text turns it into a SpecError with the path."""

    def __init__(self, line: int, column: int, length: int):
        super().__init__(line, column, length)
        self.line, self.column, self.length = line, column, length


_OPENERS = {"LBRACE", "_NL", "ELSE", "COMMA"}
_STATEMENT_ENDS = {"_NL", "SEMICOLON", "LBRACE", "RBRACE"}
_DROP_SEPARATOR_BEFORE = {"RBRACE", "ELSE", "LBRACE"}


class Separators:
    """Post-lexer: ';' and newlines become one _NL separator between statements.

    Newlines inside parentheses and brackets are dropped (so argument lists and
    lists may span lines),
    runs of separators collapse, and no separator is emitted after '{' or
    before '}' / 'else'.  The grammar then needs no optional-separator rules,
    which keeps it LALR(1).
    """

    always_accept = ("_NL", "SEMICOLON")

    def closes_brackets(self, brace) -> bool:
        """Whether a '{' or '}' ends every '(' and '[' left open (error recovery)."""
        return False

    def process(self, stream):
        depth = 0
        pending = None
        previous = "_NL"  # start of file behaves like a fresh line
        limit, length = STATEMENT_TOKENS.value(), 0  # tokens since the last separator
        for tok in stream:
            kind = tok.type
            length = 0 if kind in _STATEMENT_ENDS and depth == 0 else length + 1
            if length > limit:  # stopped while reading: no tree of it is ever built
                raise StatementTooLong(tok.line, tok.column, length)
            if kind in ("_NL", "SEMICOLON"):
                if (kind == "_NL" and depth > 0) or previous in _OPENERS:
                    continue
                if pending is None:
                    pending = Token.new_borrow_pos("_NL", tok.value, tok)
                continue
            if pending is not None and kind not in _DROP_SEPARATOR_BEFORE:
                yield pending
            pending = None
            if kind in ("LPAR", "LSQB"):
                depth += 1
            elif kind in ("RPAR", "RSQB"):
                depth = max(0, depth - 1)
            elif kind in ("LBRACE", "RBRACE") and depth and self.closes_brackets(tok):
                depth = 0
            previous = kind
            yield tok


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR_PATH.read_text(encoding="utf-8"), parser="lalr", lexer="basic",
                postlex=Separators(), propagate_positions=True,
                maybe_placeholders=True, cache=True)


def parse_text(text: str, path: str = "<string>", all_errors: bool = True) -> ast.Module:
    """Parse one .cnn file's text; raises SpecError with a location on bad syntax
    (every syntax error of the file, or only the first one)."""
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write
    remember_source(path, text)
    try:
        tree = _parser().parse(text)
        return TreeToAst(path).build(tree)
    except UnexpectedInput as exc:
        first = _syntax_error(exc, path)
        raise (_all_syntax_errors(text, path, first) if all_errors else first) from None
    except StatementTooLong as exc:
        raise statement_too_long(exc, path) from None
    except (RecursionError, VisitError) as exc:
        if isinstance(exc, VisitError) and isinstance(exc.orig_exc, SpecError):
            raise exc.orig_exc from None  # a syntax rule the grammar cannot express
        if isinstance(exc, VisitError) and not isinstance(exc.orig_exc, RecursionError):
            raise
        raise SpecError(f"{path} nests too deeply to read (brackets, blocks or operators "
                        f"hundreds of levels deep)", Span(path, 1, 1)) from None


# ---- syntax errors ---------------------------------------------------------

_FRIENDLY = {
    "NAME": "a name", "INT": "a number", "FLOAT": "a number", "DIMS": "a size like 3x224x224",
    "STRING": "a string", "_NL": "a new line or ';'", "SEMICOLON": "';'",
    "LPAR": "'('", "RPAR": "')'", "LBRACE": "'{'", "RBRACE": "'}'", "COMMA": "','",
    "EQUAL": "'='", "DOT": "'.'", "MERGE": "'add', 'concat' or 'mul'", "$END": "end of file",
    "COMPARE": "a comparison", "SIGN": "'+' or '-'", "MULOP": "'*', '/', '//' or '%'",
    "POWOP": "'**'", "MINUS": "'-'", "PLUS": "'+'", "__ANON_0": "'->'",
    "LSQB": "'['", "RSQB": "']'", "COLON": "':'",
}


def _describe(terminal: str) -> str:
    if terminal in _FRIENDLY:
        return _FRIENDLY[terminal]
    return f"'{terminal.lower()}'"


# Operators are left out of "expected ..." lists when something else would fit too:
# after `conv(16, 3` a person needs to hear "',' or ')'", not every operator.
_OPERATORS = {"MULOP", "SIGN", "POWOP", "COMPARE", "__ANON_0", "AND", "OR"}


# What may follow a value inside each kind of bracket, when it is the innermost open one.
_INSIDE = {"(": ("COMMA", "RPAR"), "[": ("COMMA", "RSQB"), "{": ("COLON", "COMMA", "RBRACE")}
_CLOSER = {"(": "RPAR", "[": "RSQB", "{": "COLON"}


def _in_table(expected, opener: str | None) -> bool:
    """Whether the parser stands inside a table's braces: a ':' is expected, and not
    the ':' of a label (`layer1: ...`), which only begins a statement of a body."""
    return opener == "{" and "COLON" in expected and "COMMA" in expected


def _expected_list(expected, opener: str | None = None) -> str:
    if opener == "{" and not _in_table(expected, opener):
        expected = [t for t in expected if t != "COLON"]  # a label's ':' helps nobody here
    elif opener in _INSIDE and _CLOSER[opener] in expected:  # only these help inside it
        expected = [t for t in _INSIDE[opener] if t in expected]
    elif "RPAR" in expected and "RSQB" not in expected:  # inside an argument list
        expected = [t for t in ("COMMA", "RPAR") if t in expected]
    wanted = [t for t in expected if t not in _OPERATORS] or list(expected)
    if "_NL" in wanted:
        wanted = [t for t in wanted if t != "SEMICOLON"]
    names = sorted({_describe(t) for t in wanted})
    if len(names) > 6:
        return "a statement or expression" if "a name" in names else ", ".join(names[:6]) + ", ..."
    return " or ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " or " + names[-1]


def _innermost_bracket(path: str, line: int, column: int) -> str | None:
    """The innermost bracket still open before (line, column): '(', '[' or '{'."""
    lines = source_text(path).splitlines()[:line]
    if lines:
        lines[-1] = lines[-1][:column - 1]
    stack: list[str] = []
    for text in lines:
        text = re.sub(r'"[^"\n]*"', '""', text).split("#", 1)[0]  # strings, comments
        for char in text:
            if char in "([{":
                stack.append(char)
            elif char in ")]}" and stack:
                stack.pop()
    return stack[-1] if stack else None


def _starts_line(path: str, tok) -> bool:
    lines = source_text(path).splitlines()
    return 1 <= tok.line <= len(lines) and not lines[tok.line - 1][:tok.column - 1].strip()


def statement_too_long(exc: StatementTooLong, path: str) -> SpecError:
    return SpecError(STATEMENT_TOKENS.message(exc.length, " (and counting)"),
                     Span(path, exc.line, exc.column), STATEMENT_TOKENS.hint())


def _all_syntax_errors(text: str, path: str, first: SpecError) -> SpecError:
    """Every syntax error of the file (the first one is the strict parser's), found by
    parsing again with error recovery; only a file that fails is read twice."""
    from cnndsl.syntax.recover import parse_recovering
    _, errors = parse_recovering(text, path)
    if not errors or errors[0].span != first.span:
        return first
    first.diagnostics = errors
    return first


def character_error(char: str, span: Span) -> Diagnostic:
    hint = "write sizes with a plain 'x', e.g. 3x224x224" if char == "×" else None
    return Diagnostic("error", f"unexpected character {char!r}", span, hint)


def token_error(exc: UnexpectedToken, path: str) -> SpecError:
    """The error for a token the grammar does not allow where it stands."""
    return _syntax_error(exc, path)


def _syntax_error(exc: UnexpectedInput, path: str) -> SpecError:
    line, column = getattr(exc, "line", 1) or 1, getattr(exc, "column", 1) or 1
    hint = None
    if isinstance(exc, UnexpectedCharacters):
        error = character_error(exc.char, Span(path, line, column, line, column + 1))
        return SpecError(error.message, error.span, error.hint)
    elif isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        tok = exc.token
        shown = "line break" if tok.type == "_NL" else repr(str(tok))
        opener = _innermost_bracket(path, tok.line, tok.column)
        message = f"unexpected {shown}; expected {_expected_list(exc.expected, opener)}"
        closer = {"(": ")", "[": "]"}.get(opener, ")")
        if _in_table(exc.expected, opener):
            hint = 'a table is {KEY: VALUE, ...}, e.g. {"b0": (1.0, 224)}'
        elif ("COMMA" in exc.expected and tok.type in ("INT", "FLOAT", "NAME", "DIMS", "STRING")
                and not _starts_line(path, tok)):
            hint = (f"is a ',' missing between two "
                    f"{'arguments' if opener in (None, '(') else 'values'}?")
        elif ("RPAR" in exc.expected or "RSQB" in exc.expected) and tok.type != "RBRACE":
            hint = f"is a '{closer}' missing? an open '{opener or '('}' continues over line breaks"
        elif tok.type == "DEF":
            hint = "functions are defined outside blocks and networks, at the top of a file"
        elif "_NL" in exc.expected and tok.type in ("NAME", "MERGE", "REPEAT", "FOR", "IF", "LET"):
            hint = "separate statements with a new line or ';'"
        line, column = tok.line, tok.column
    else:
        message = "unexpected end of file"
        expected = getattr(exc, "expected", None) or ()
        if "RBRACE" in expected:
            hint = "a '{' is never closed"
        elif expected:
            message += f"; expected {_expected_list(expected)}"
        text_lines = source_text(path).splitlines()
        line = max(1, len(text_lines))
        column = len(text_lines[-1]) + 1 if text_lines else 1
    return SpecError(message, Span(path, line, column, line, column + 1), hint)

