"""Every name written in the files of a checked document, with its exact range and
what it is: a call of a layer or block, a keyword argument, a parameter or `let`
value read in an expression, a named value bound (`-> x`) or read (`x`, `path from
x`), a definition's name, an import.  Hover, go to definition, references and
completion start from here.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from cnndsl.errors import Span
from cnndsl.syntax import ast


@dataclass(frozen=True)
class Occurrence:
    kind: str  # call, function, keyword, name, bind, read, let, param, block, network,
    #            def, import
    name: str
    span: Span  # the name itself
    node: object  # the AST node it belongs to (Call for a keyword's call)
    definition: object  # the enclosing BlockDef or NetworkDef (None at top level)


def walk(node, parents=()):
    """(node, its ancestors) for every AST node below `node`."""
    stack = [(node, parents)]
    while stack:
        item, above = stack.pop()
        if isinstance(item, (tuple, list)):
            stack.extend((child, above) for child in reversed(item))
        elif dataclasses.is_dataclass(item) and not isinstance(item, Span):
            yield item, above
            below = (*above, item)
            stack.extend((getattr(item, f.name), below)
                         for f in reversed(dataclasses.fields(item)))


class Occurrences:
    def __init__(self, checked):
        self.texts = checked.texts
        self.items: list[Occurrence] = []
        for module in checked.modules.values():
            self._collect(module)

    def in_path(self, path: str) -> list[Occurrence]:
        return [o for o in self.items if o.span.path == path]

    def at(self, path: str, line: int, column: int) -> Occurrence | None:
        for o in self.items:
            if o.span.path == path and o.span.line == line and \
                    o.span.column <= column <= o.span.end_column:
                return o
        return None

    # ---- collecting ----
    def _collect(self, module: ast.Module) -> None:
        add = self.items.append
        for imp in module.imports:
            add(Occurrence("import", imp.path, imp.span, imp, None))
        for constant in module.constants:  # top-level lets
            for node, parents in walk(constant):
                self._node(node, parents, None)
        for definition in (*module.blocks, *module.networks, *module.functions):
            kind = {ast.BlockDef: "block", ast.NetworkDef: "network"}.get(type(definition),
                                                                         "def")
            span = self._word_after(definition.span, kind, definition.name)
            add(Occurrence(kind, definition.name, span, definition, definition))
            for param in definition.params:
                add(Occurrence("param", param.name, _name_span(param.span, param.name),
                               param, definition))
                for node, parents in walk((param.choices, param.default)):
                    self._node(node, parents, definition)
            body = definition.body if kind != "def" else (definition.lets, definition.result)
            for node, parents in walk(body):
                self._node(node, parents, definition)

    def _node(self, node, parents, definition) -> None:
        add = self.items.append
        if isinstance(node, ast.Call) and node.name != ast.BROKEN:
            add(Occurrence("call", node.name, _name_span(node.span, node.name), node,
                           definition))
        elif isinstance(node, ast.FuncCall):
            add(Occurrence("function", node.name, _name_span(node.span, node.name), node,
                           definition))
        elif isinstance(node, ast.Keyword):
            call = next((p for p in reversed(parents)
                         if isinstance(p, (ast.Call, ast.FuncCall))), None)
            add(Occurrence("keyword", node.name, _name_span(node.span, node.name), call,
                           definition))
        elif isinstance(node, ast.NameRef):
            add(Occurrence("name", node.name, node.span, node, definition))
        elif isinstance(node, ast.Let):
            for name in node.names:  # `let w, d = row`
                span = self._word_after(node.span, r"(?:let|,)", name, literal=False)
                add(Occurrence("let", name, span, node, definition))
        elif isinstance(node, ast.Statement) and node.bind:
            span = self._word_after(node.span, "->", node.bind, last=True)
            add(Occurrence("bind", node.bind, span, node, definition))
        elif isinstance(node, ast.Path) and node.source:
            span = self._word_after(node.span, "from", node.source)
            add(Occurrence("read", node.source, span, node, definition))

    def _word_after(self, span: Span, keyword: str, name: str, last: bool = False,
                    literal: bool = True) -> Span:
        """The span of `name` written after `keyword` inside `span` (its first line,
        or its last one for a binding `-> name`)."""
        lines = self.texts.get(span.path, "").splitlines()
        line_no = (span.end_line or span.line) if last else span.line
        if 0 < line_no <= len(lines):
            source = lines[line_no - 1]
            before = re.escape(keyword) if literal else keyword
            pattern = re.compile(rf"{before}\s*({re.escape(name)})(?![\w])")
            found = list(pattern.finditer(source))
            if found:
                match = found[-1] if last else found[0]
                return Span(span.path, line_no, match.start(1) + 1, line_no, match.end(1) + 1)
        return _name_span(span, name)


def _name_span(span: Span, name: str) -> Span:
    """A span that starts with `name` (calls, keywords, parameters), narrowed to it."""
    return Span(span.path, span.line, span.column, span.line, span.column + len(name))
