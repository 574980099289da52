"""Document symbols (the outline): the network and the blocks, each with the named
values it binds, its `let`s and its labelled statements."""

from __future__ import annotations

from lsprotocol import types

from cnndsl.lsp.occurrences import walk
from cnndsl.syntax import ast


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def document_symbols(ls, params: types.DocumentSymbolParams):
        own = ls.fresh(params.text_document.uri)
        convert = ls.converter(own)
        # where each name is written: (kind, name, id of its definition) -> span
        names = {(o.kind, o.name, id(o.definition)): o.span
                 for o in reversed(own.occurrences.in_path(own.path))}
        result = []
        module = own.module
        for definition in sorted((*module.blocks, *module.networks, *module.functions),
                                 key=lambda d: (d.span.line, d.span.column)):
            kind = {ast.BlockDef: "block", ast.NetworkDef: "network"}.get(type(definition),
                                                                         "def")
            children = [_symbol(convert, name, detail, symbol_kind, span, names.get(
                (occurrence, name, id(definition)), span))
                for name, detail, symbol_kind, span, occurrence in _members(definition)]
            selection = names.get((kind, definition.name, id(definition)), definition.span)
            params = ", ".join(p.name for p in definition.params)
            result.append(types.DocumentSymbol(
                name=definition.name, detail=f"{kind}({params})",
                kind=types.SymbolKind.Class if kind == "network" else types.SymbolKind.Function,
                range=convert.range(definition.span), selection_range=convert.range(selection),
                children=children or None))
        for constant in module.constants:  # top-level lets
            result += [_symbol(convert, name, "constant", types.SymbolKind.Constant,
                               constant.span, names.get(("let", name, id(None)), constant.span))
                       for name in constant.names]
        return sorted(result, key=lambda s: (s.range.start.line, s.range.start.character))


def _symbol(convert, name, detail, kind, span, selection) -> types.DocumentSymbol:
    return types.DocumentSymbol(name=name, detail=detail, kind=kind, range=convert.range(span),
                                selection_range=convert.range(selection))


def _members(definition):
    """(name, detail, kind, span, occurrence kind) of what a definition names inside."""
    body = definition.lets if isinstance(definition, ast.FuncDef) else definition.body
    for node, _ in walk(body):
        label = getattr(node, "label", None)  # labelled statements, where the language has them
        if isinstance(node, ast.Statement) and isinstance(label, str):
            yield label, "label", types.SymbolKind.Module, node.span, "label"
        if isinstance(node, ast.Statement) and node.bind:
            yield node.bind, "named value", types.SymbolKind.Variable, node.span, "bind"
        elif isinstance(node, ast.Output):
            detail = "output head" if node.body is not None else "main output"
            yield node.name, detail, types.SymbolKind.Event, node.span, "output"
        elif isinstance(node, ast.Let):
            for name in node.names:
                yield name, "let", types.SymbolKind.Constant, node.span, "let"
