"""Parse with error recovery: every syntax error of a file, and an AST of the rest.

The strict parser (cnndsl.syntax.parser.parse_text) stops at the first error.  An
editor needs more: one typo must not hide the other mistakes in the file, nor the
shapes of the layers around it.  This module drives the same LALR parser token by
token (lark's interactive parser state) and, at an error, goes back to the start of
the statement it was reading, skips to the statement's end (the next separator at
its brace depth, or the '}' closing its body) and puts an unreadable-statement
placeholder there: a Call named ast.BROKEN, at which elaboration stops without a
further error.  A broken top-level header (`block b(c,, d) {`) is skipped whole and
leaves a stub block of the same name, so calls of it stop there too instead of
reporting an unknown block.
"""

from __future__ import annotations

from lark import Token, Tree
from lark.exceptions import UnexpectedToken, VisitError
from lark.parsers.lalr_analysis import Shift
from lark.parsers.lalr_parser_state import ParserState

from cnndsl.errors import Diagnostic, Span, remember_source
from cnndsl.syntax import ast
from cnndsl.syntax.parser import Separators, StatementTooLong, _parser, character_error, \
    statement_too_long, token_error
from cnndsl.syntax.tokens import BAD_CHARACTER, all_tokens, is_trivia
from cnndsl.syntax.tree_to_ast import TreeToAst

_TOP_LEVEL = {"BLOCK", "NETWORK", "IMPORT", "DEF"}  # words that start top-level items
_MAX_ERRORS = 100
_MAX_RESYNCS = 1000  # beyond this the text is not a spec being edited


def parse_recovering(text: str, path: str) -> tuple[ast.Module, list[Diagnostic]]:
    """The module as far as it can be read, and every syntax error (empty if none)."""
    text = text.removeprefix("\ufeff")
    remember_source(path, text)
    raw = all_tokens(text)
    empty = ast.Module(path, (), (), ())
    try:
        tokens = list(_Separators().process(t for t in raw if not is_trivia(t)))
    except StatementTooLong as exc:  # hostile input: not read at all
        return empty, [statement_too_long(exc, path).diagnostics[0]]
    reader = _Reader(tokens, path, text)
    try:
        tree = reader.run()
    except UnexpectedToken as exc:  # recovery itself failed: keep what it found
        tree = None
        if not reader.errors:
            reader.errors.append(token_error(exc, path).diagnostics[0])
    errors = reader.errors
    if tree is None:
        return empty, errors
    try:
        return TreeToAst(path).build(tree), errors
    except VisitError as exc:  # a rule the grammar cannot express (chained comparisons)
        if hasattr(exc.orig_exc, "diagnostics"):
            return empty, [*errors, *exc.orig_exc.diagnostics]
        raise
    except RecursionError:
        return empty, [*errors, Diagnostic("error", f"{path} nests too deeply to read",
                                           Span(path, 1, 1))]


class _Separators(Separators):
    """The braces of a body never stand inside brackets, so they end any '(' or '['
    left open: one unclosed '(' does not swallow the line breaks of the rest of the
    file.  (A table's braces, `{"b0": 1.0}`, may: they follow '=', '(', ',' ...)"""

    def process(self, stream):
        tokens = list(stream)
        self.bodies = _body_braces(tokens)
        return super().process(tokens)

    def closes_brackets(self, brace) -> bool:
        return id(brace) in self.bodies


_BEFORE_A_TABLE = {"LPAR", "LSQB", "COMMA", "EQUAL", "COLON", "IN", "NOT", "__ANON_0",
                   "SIGN", "MULOP", "POWOP", "COMPARE", "AND", "OR"}


def _body_braces(tokens: list[Token]) -> set[int]:
    """The ids of the '{' and '}' tokens that open and close bodies, not tables."""
    bodies, stack, previous = set(), [], None
    for tok in tokens:
        if tok.type == "LBRACE":
            body = previous is None or previous.type not in _BEFORE_A_TABLE
            stack.append(body)
            if body:
                bodies.add(id(tok))
        elif tok.type == "RBRACE" and stack and stack.pop():
            bodies.add(id(tok))
        if tok.type not in ("_NL", "SEMICOLON"):
            previous = tok
    return bodies


class _Checkpoint:
    """Where a statement (or a top-level item) begins: the parser's state there, how
    many tokens it had taken, the index of the next input token, the braces open."""

    def __init__(self, state, fed: int, index: int, depth: int):
        self.state = _copy(state)
        self.fed, self.index, self.depth = fed, index, depth


def _copy(state) -> ParserState:
    """A parser state that later parsing cannot change.  Lark's tree builder extends
    the child list of a tree on the value stack in place (its optimisation for
    left-recursive lists), so those lists are copied; everything below them is
    never touched again."""
    values = [Tree(v.data, list(v.children), v._meta) if isinstance(v, Tree) else v
              for v in state.value_stack]
    return ParserState(state.parse_conf, state.lexer, list(state.state_stack), values)


class _Reader:
    def __init__(self, tokens: list[Token], path: str, text: str):
        self.tokens = tokens
        self.path = path
        self.text = text
        self.errors: list[Diagnostic] = []
        self.state = _parser().parse_interactive("").parser_state
        self.fed: list[Token] = []  # every token the parser took, in order
        self.resyncs = 0

    # ---- driving the parser ----
    def run(self):
        checkpoint = self._checkpoint(0, 0)
        depth, i, last_error, quiet = 0, 0, -1, False
        while i < len(self.tokens):
            tok = self.tokens[i]
            try:
                self._take(tok)
            except UnexpectedToken as exc:
                if i > last_error and not quiet and len(self.errors) < _MAX_ERRORS:
                    self._report(exc, tok, depth, i)
                elif i <= last_error:
                    i += 1  # no progress since the last error: drop the token, quietly
                    self._rewind(checkpoint)  # the failed token may have reduced
                    continue
                self.resyncs += 1
                if self.resyncs > _MAX_RESYNCS:
                    return None  # hopeless text: the errors so far, no syntax tree
                last_error, quiet = i, True
                i, depth = self._resync(checkpoint, i)
                checkpoint = self._checkpoint(i, depth)
                continue
            quiet = False
            i += 1
            if tok.type == "LBRACE":
                depth += 1
                checkpoint = self._checkpoint(i, depth)
            elif tok.type == "RBRACE":
                depth = max(0, depth - 1)
                if depth == 0:  # a top-level item is complete
                    checkpoint = self._checkpoint(i, depth)
            if tok.type == "_NL" and depth > 0:
                checkpoint = self._checkpoint(i, depth)
            elif depth == 0 and i < len(self.tokens) and self.tokens[i].type == "_NL" and \
                    self._accepts(self.tokens[i].type):  # a top-level item is complete
                checkpoint = self._checkpoint(i, depth)
        return self._finish(checkpoint)

    def _checkpoint(self, index: int, depth: int) -> _Checkpoint:
        return _Checkpoint(self.state, len(self.fed), index, depth)

    def _take(self, tok: Token):
        result = self.state.feed_token(tok, tok.type == "$END")
        self.fed.append(tok)
        return result

    def _restart(self, checkpoint: _Checkpoint) -> None:
        """The parser as it was at the checkpoint."""
        self.state = _copy(checkpoint.state)
        del self.fed[checkpoint.fed:]

    def _rewind(self, checkpoint: _Checkpoint) -> None:
        """The parser as it was before its last, failed token: the checkpoint's state
        and the tokens taken since."""
        since = self.fed[checkpoint.fed:]
        self._restart(checkpoint)
        for tok in since:
            self._take(tok)

    def _synthesize(self, type_: str, value: str, at: Token, end: Token | None = None):
        end = end or at
        return self._take(Token(type_, value, at.start_pos, at.line, at.column,
                                end.end_line, end.end_column, end.end_pos))

    def _accepts(self, type_: str) -> bool:
        """Whether the parser takes a token of this type next, by running its LALR
        table on the state stack alone (a lookup is not enough: LALR may reduce on a
        token it then refuses)."""
        conf = self.state.parse_conf
        stack = list(self.state.state_stack)
        while True:
            action = conf.states[stack[-1]].get(type_)
            if action is None:
                return False
            if action[0] is Shift:
                return True
            rule = action[1]
            if rule.expansion:
                del stack[-len(rule.expansion):]
            stack.append(conf.states[stack[-1]][rule.origin.name][1])
            if type_ == "$END" and stack[-1] == conf.end_state:
                return True

    # ---- recovery ----
    def _resync(self, checkpoint: _Checkpoint, error_index: int) -> tuple[int, int]:
        """Back to the checkpoint, past the broken statement: (next index, depth)."""
        tokens = self.tokens
        depth = 0  # relative to the checkpoint
        for tok in tokens[checkpoint.index:error_index]:
            depth += {"LBRACE": 1, "RBRACE": -1}.get(tok.type, 0)
        in_body = checkpoint.depth > 0
        resume = error_index
        while resume < len(tokens):
            kind = tokens[resume].type
            if self._starts_item(resume):
                break
            if kind == "RBRACE":
                if depth <= 0 and in_body:
                    break
                depth -= 1
            elif kind == "LBRACE":
                depth += 1
            elif kind == "_NL" and depth <= 0:
                break
            resume += 1
        self._restart(checkpoint)
        skipped = tokens[checkpoint.index:max(resume, checkpoint.index + 1)]
        if in_body:
            self._placeholder(skipped)
        else:
            self._stub(skipped)
        depth = checkpoint.depth
        if resume < len(tokens) and self._starts_item(resume):
            for _ in range(depth):  # the keyword starts a new item: close what is open
                self._synthesize("RBRACE", "}", tokens[resume])
            depth = 0
            if self._accepts("_NL"):
                self._synthesize("_NL", "\n", tokens[resume])
        return resume, depth

    def _starts_item(self, i: int) -> bool:
        """Whether token i starts a top-level item (`block` in `block.count` does not)."""
        tokens = self.tokens
        return tokens[i].type in _TOP_LEVEL and not (
            i + 1 < len(tokens) and tokens[i + 1].type == "DOT")

    def _placeholder(self, skipped: list[Token]) -> None:
        first, last = skipped[0], skipped[-1]
        if last.type in ("_NL", "RBRACE") and len(skipped) > 1:
            last = skipped[-2]
        if self._accepts("NAME"):
            self._synthesize("NAME", ast.BROKEN, first, last)

    def _stub(self, skipped: list[Token]) -> None:
        """A top-level item that cannot be read: a block of the same name that stops
        elaboration where it is called (an unreadable header loses its parameters)."""
        rest = list(skipped)
        if rest and rest[0].type == "_NL" and self._accepts("_NL"):
            self._take(rest.pop(0))
        if len(rest) >= 2 and rest[0].type == "BLOCK" and rest[1].type == "NAME":
            keyword, name = rest[0], rest[1]
            self._take(keyword)
            self._take(name)
            for type_, value in (("LPAR", "("), ("RPAR", ")"), ("LBRACE", "{")):
                self._synthesize(type_, value, name)
            self._synthesize("NAME", ast.BROKEN, keyword, rest[-1])
            self._synthesize("RBRACE", "}", rest[-1])

    def _finish(self, checkpoint: _Checkpoint):
        last = self.tokens[-1] if self.tokens else Token("$END", "", 0, 1, 1)
        for attempt in range(2):
            try:
                return self._close(last)
            except UnexpectedToken as exc:
                if attempt == 0:
                    self._report(exc, exc.token, checkpoint.depth)
                self._restart(checkpoint)
                if checkpoint.depth > 0:
                    self._placeholder([last])
        return None

    def _close(self, last: Token):
        """Feed end of file, closing what is open first (each unclosed '{' was reported)."""
        reported = False
        for _ in range(10_000):
            if self._accepts("$END") or not self._accepts("RBRACE"):
                return self._take(Token.new_borrow_pos("$END", "", last))
            if not reported:
                reported = True
                self._report_end_of_file()
            self._synthesize("RBRACE", "}", last)
        return None

    # ---- messages ----
    def _report(self, exc: UnexpectedToken, tok: Token, depth: int,
                index: int | None = None) -> None:
        if tok.type == BAD_CHARACTER:
            self.errors.append(character_error(str(tok), Span(self.path, tok.line, tok.column,
                                                              tok.line, tok.column + 1)))
        elif tok.type == "$END":
            if "RBRACE" in exc.expected:
                return  # _close reports it with the brace it leaves open
            self.errors.append(token_error(exc, self.path).diagnostics[0])
        else:
            error = token_error(exc, self.path).diagnostics[0]
            brace = unclosed_brace(self.tokens, self.text) if (
                index is not None and self._starts_item(index) and depth > 0) else None
            if brace is not None:
                error = Diagnostic(error.severity, error.message, error.span,
                                   f"is a '}}' missing? the '{{' on line {brace.line} "
                                   "looks unclosed", ((_brace_span(self.path, brace),
                                                       "this '{' may be missing its '}'"),))
            self.errors.append(error)

    def _report_end_of_file(self) -> None:
        lines = self.text.splitlines() or [""]
        end = Span(self.path, len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 2)
        brace = unclosed_brace(self.tokens, self.text)
        if brace is None:
            self.errors.append(Diagnostic("error", "unexpected end of file", end,
                                          "a '{' is never closed"))
            return
        self.errors.append(Diagnostic(
            "error", f"unexpected end of file: the '{{' on line {brace.line} is never closed",
            end, "add the '}' where its body ends",
            ((_brace_span(self.path, brace), "this '{' is never closed"),)))


def _brace_span(path: str, brace: Token) -> Span:
    return Span(path, brace.line, brace.column, brace.line, brace.column + 1)


def unclosed_brace(tokens: list[Token], text: str) -> Token | None:
    """The '{' most likely left open: braces are matched in order, except that a '}'
    starting a line also closes every '{' opened on a line indented deeper than
    it, which is how a person reads them (the first of those is the culprit);
    otherwise the innermost '{' never matched."""
    lines = text.splitlines()

    def indent(line: int) -> int:
        source = lines[line - 1] if 0 < line <= len(lines) else ""
        return len(source) - len(source.lstrip())

    stack: list[Token] = []
    for tok in tokens:
        if tok.type == "LBRACE":
            stack.append(tok)
        elif tok.type == "RBRACE" and stack:
            if indent(tok.line) == tok.column - 1:  # the '}' starts its line
                while len(stack) > 1 and indent(stack[-1].line) > tok.column - 1:
                    return stack[-1]
            stack.pop()
    return stack[-1] if stack else None
