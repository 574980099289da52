"""Lark parse tree -> cnndsl.syntax.ast dataclasses (one method per grammar rule)."""

from __future__ import annotations

from lark import Token, Transformer, v_args

from cnndsl.errors import Span, SpecError
from cnndsl.syntax import ast


# Binary operators: precedence and whether they associate to the right.
PRECEDENCE = {"or": (1, False), "and": (2, False),
              **{op: (4, False) for op in ("==", "!=", "<", "<=", ">", ">=")},
              "+": (5, False), "-": (5, False),
              **{op: (6, False) for op in ("*", "/", "//", "%")},
              "**": (8, True)}
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
# Prefix operators bind their operand at this precedence: `not a == b` is
# `not (a == b)`, and `-2 ** 2` is `-(2 ** 2)`, as in Python.
PREFIX_PRECEDENCE = {"not": 3, "-": 7, "+": 7}


def _join(first: Span, last: Span) -> Span:
    return Span(first.path, first.line, first.column, last.end_line, last.end_column)


class _Climber:
    """Precedence climbing over a flat expression: operands (AST nodes) and
    operator tokens as (type, text, span) triples."""

    def __init__(self, items):
        self.items = items
        self.pos = 0

    def parse(self, min_precedence: int):
        item = self.items[self.pos]
        self.pos += 1
        if isinstance(item, tuple):  # a prefix operator
            _, op, span = item
            operand = self.parse(PREFIX_PRECEDENCE[op])
            left = operand if op == "+" else ast.Unary(op, operand, _join(span, operand.span))
        else:
            left = item
        while self.pos < len(self.items):
            _, op, _ = self.items[self.pos]
            precedence, right_assoc = PRECEDENCE[op]
            if precedence < min_precedence:
                break
            self.pos += 1
            right = self.parse(precedence if right_assoc else precedence + 1)
            left = ast.Binary(op, left, right, _join(left.span, right.span))
            if op in COMPARISONS and self.pos < len(self.items) and \
                    self.items[self.pos][1] in COMPARISONS:
                raise SpecError("comparisons cannot be chained", self.items[self.pos][2],
                                f"write `a {op} b and b {self.items[self.pos][1]} c`")
        return left


@v_args(meta=True)
class TreeToAst(Transformer):
    def __init__(self, path: str):
        super().__init__()
        self.file = path

    def build(self, tree) -> ast.Module:
        return self.transform(tree)

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.file, 1, 1)
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok_span(self, tok: Token) -> Span:
        return Span(self.file, tok.line, tok.column, tok.end_line or tok.line,
                    tok.end_column or tok.column + len(tok))

    # ---- top level ----
    def start(self, meta, items):
        items = [i for i in items if i is not None]
        return ast.Module(
            path=self.file,
            imports=tuple(i for i in items if isinstance(i, ast.Import)),
            blocks=tuple(i for i in items if isinstance(i, ast.BlockDef)),
            networks=tuple(i for i in items if isinstance(i, ast.NetworkDef)),
            functions=tuple(i for i in items if isinstance(i, ast.FuncDef)),
            constants=tuple(i for i in items if isinstance(i, ast.Let)),
        )

    def import_stmt(self, meta, children):
        return ast.Import(children[0][1:-1], self._span(meta))

    def block_def(self, meta, children):
        name, params, body = children
        return ast.BlockDef(str(name), tuple(params or ()), body, self._span(meta))

    def network_def(self, meta, children):
        name, params, body = children
        return ast.NetworkDef(str(name), tuple(params or ()), body, self._span(meta))

    def params(self, meta, children):
        return [c for c in children if c is not None]

    def param(self, meta, children):
        name, choices, default = children
        return ast.Param(str(name), default, self._span(meta), choices)

    def func_def(self, meta, children):
        name, params, *lets, result = children
        return ast.FuncDef(str(name), tuple(params or ()), tuple(lets), result,
                           self._span(meta))

    # ---- statements ----
    def body(self, meta, children):
        return ast.Body(tuple(c for c in children if c is not None), self._span(meta))

    def statement(self, meta, children):
        label, action, bind = children
        return ast.Statement(action, bind, self._span(meta), label)

    def group(self, meta, children):
        label, body, bind = children
        return ast.Statement(ast.Group(body, body.span), bind, self._span(meta), label)

    def label(self, meta, children):
        name, sequential = children
        return ast.Label(str(name), sequential is not None, self._span(meta))

    def block_label(self, meta, children):
        return ast.Label("block", children[0] is not None, self._span(meta))

    def number_label(self, meta, children):
        number, sequential = children
        return ast.Label(str(int(number)), sequential is not None, self._span(meta))

    def unnamed_label(self, meta, children):
        return ast.Label(None, True, self._span(meta))

    def bind(self, meta, children):
        return str(children[0])

    def call(self, meta, children):
        name, arguments = children
        args, keywords = [], []
        for a in arguments or ():
            (keywords if isinstance(a, ast.Keyword) else args).append(a)
        has_parens = self._span(meta).end_column > name.end_column or arguments is not None
        return ast.Call(str(name), tuple(args), tuple(keywords), has_parens, self._span(meta))

    def arguments(self, meta, children):
        return [c for c in children if c is not None]

    def keyword(self, meta, children):
        name, value = children
        return ast.Keyword(str(name), value, self._span(meta))

    def repeat(self, meta, children):
        count, index, body = children
        return ast.Repeat(count, str(index) if index else None, body, self._span(meta))

    def for_stmt(self, meta, children):
        *names, items, body = children
        return ast.For(tuple(str(n) for n in names), items, body, self._span(meta))

    def if_stmt(self, meta, children):
        condition, then, otherwise = children
        if isinstance(otherwise, ast.If):  # else if: wrap in a one-statement body
            otherwise = ast.Body((ast.Statement(otherwise, None, otherwise.span),), otherwise.span)
        return ast.If(condition, then, otherwise, self._span(meta))

    def let(self, meta, children):
        *names, value = children
        return ast.Let(tuple(str(n) for n in names), value, self._span(meta))

    def defaults(self, meta, children):
        return ast.Defaults(tuple(c for c in children if c is not None), self._span(meta))

    def input_decl(self, meta, children):
        return ast.InputDecl(children[0], self._span(meta))

    def output_stmt(self, meta, children):
        name, arguments, body = children
        weight = None
        for a in arguments or ():
            if not isinstance(a, ast.Keyword) or a.name != "weight" or weight is not None:
                raise SpecError(f"output {name} takes one argument, weight=W (its loss's "
                                f"weight in training)", a.span,
                                f"e.g. `output {name}(weight=0.3) {{ ... }}`")
            weight = a.value
        return ast.Output(str(name), body, self._span(meta), self._tok_span(name), weight)

    def merge(self, meta, children):
        kind, *branches = children
        return ast.Merge(str(kind), tuple(b for b in branches if b is not None), self._span(meta))

    def path(self, meta, children):
        label, source, condition, body, otherwise = children
        return ast.Path(str(source) if source else None, condition, body, otherwise,
                        self._span(meta), label)

    def path_if(self, meta, children):
        return children[0]

    def path_else(self, meta, children):
        return children[0]

    # ---- expressions ----
    def int_lit(self, meta, children):
        span = self._tok_span(children[0])
        return ast.Literal(_whole_number(str(children[0]), span), span)

    def float_lit(self, meta, children):
        return ast.Literal(float(children[0]), self._tok_span(children[0]))

    def dims_lit(self, meta, children):
        span = self._tok_span(children[0])
        return ast.Literal(tuple(_whole_number(p, span) for p in children[0].split("x")), span)

    def string_lit(self, meta, children):
        return ast.Literal(str(children[0])[1:-1], self._tok_span(children[0]))

    def true_lit(self, meta, children):
        return ast.Literal(True, self._span(meta))

    def false_lit(self, meta, children):
        return ast.Literal(False, self._span(meta))

    def name_ref(self, meta, children):
        return ast.NameRef(str(children[0]), self._tok_span(children[0]))

    def input_attr(self, meta, children):
        return ast.InputAttr(str(children[0]), self._span(meta))

    def block_attr(self, meta, children):
        return ast.BlockAttr(str(children[0]), self._span(meta))

    def func_call(self, meta, children):
        name, arguments = children
        args = tuple(a for a in arguments or () if not isinstance(a, ast.Keyword))
        keywords = tuple(a for a in arguments or () if isinstance(a, ast.Keyword))
        return ast.FuncCall(str(name), args, self._span(meta), keywords)

    def tuple_lit(self, meta, children):
        return ast.TupleExpr(tuple(c for c in children if c is not None), self._span(meta))

    def list_lit(self, meta, children):
        return ast.ListExpr(tuple(c for c in children if c is not None), self._span(meta))

    def list_comp(self, meta, children):
        element, *names, iterable, condition = children
        return ast.Comprehension(element, tuple(str(n) for n in names), iterable, condition,
                                 self._span(meta))

    def dict_lit(self, meta, children):
        items = [c for c in children if c is not None]
        return ast.DictExpr(tuple(k for k, _ in items), tuple(v for _, v in items),
                            self._span(meta))

    def dict_item(self, meta, children):
        return tuple(children)

    def index(self, meta, children):
        base, index = children
        return ast.Index(base, index, self._span(meta))

    def slice(self, meta, children):
        base, start, stop, step = children
        return ast.Slice(base, start, stop, step, self._span(meta))

    def conditional(self, meta, children):
        then, condition, otherwise = children
        return ast.Conditional(condition, then, otherwise, self._span(meta))

    def chain(self, meta, children):
        items = [(c.type, str(c), self._tok_span(c)) if isinstance(c, Token) else c
                 for c in children]
        return _Climber(items).parse(0)


def _whole_number(text: str, span: Span) -> int:
    """int(text); int() of 5,000 digits raises, and no network needs 10**19."""
    if len(text.lstrip("0")) > 19:
        raise SpecError(f"number too large ({len(text):,} digits; cnndsl uses numbers up to "
                        f"10**18)", span)
    return int(text)
