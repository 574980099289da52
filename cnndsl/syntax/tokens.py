"""Every token of a .cnn file, trivia included: the stream the formatter and the
error-recovering parser read.

The parser proper never sees comments, spaces or line continuations (the grammar
ignores them) and sees newlines only through the Separators post-lexer; the
formatter needs all of them, and error recovery needs to go on past a character
the lexer cannot read.  Both are served by lexing with the grammar's own
terminals, so a terminal another part of the language adds is lexed here too.
"""

from __future__ import annotations

import functools
from copy import copy

from lark import Token
from lark.exceptions import UnexpectedCharacters
from lark.lexer import BasicLexer, LexerThread

BAD_CHARACTER = "BAD_CHARACTER"  # a character no terminal matches (kept for recovery)
COMMENT = "COMMENT"
NEWLINE = "_NL"


@functools.lru_cache(maxsize=1)
def _lexer() -> tuple[BasicLexer, frozenset[str]]:
    from cnndsl.syntax.parser import _parser  # the one Lark instance (built once, cached)
    conf = copy(_parser().lexer_conf)
    ignored = frozenset(conf.ignore)
    conf.ignore = ()
    return BasicLexer(conf), ignored


def ignored_types() -> frozenset[str]:
    """Token types the parser skips: comments, spaces, line continuations."""
    return _lexer()[1]


def all_tokens(text: str) -> list[Token]:
    """The whole text as tokens, trivia included; a character no terminal matches
    becomes one BAD_CHARACTER token instead of stopping the lexer."""
    lexer, _ = _lexer()
    thread = LexerThread.from_text(lexer, text)
    state = thread.state
    tokens: list[Token] = []
    while True:
        try:
            tokens.extend(lexer.lex(state, None))
            return tokens
        except UnexpectedCharacters:
            counter = state.line_ctr
            pos, line, column = counter.char_pos, counter.line, counter.column
            char = text[pos]
            tokens.append(Token(BAD_CHARACTER, char, pos, line, column, line, column + 1,
                                pos + 1))
            counter.feed(char)


def is_trivia(token: Token) -> bool:
    return token.type in ignored_types()


def is_continuation(token: Token) -> bool:
    """A backslash-newline, which joins two lines into one."""
    return token.type in ignored_types() and token.value.startswith("\\")
