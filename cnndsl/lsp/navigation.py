"""Go to definition (block calls, imports, named values, parameters and `let`s) and
find references (of blocks, across the spec, its libraries and every open file)."""

from __future__ import annotations

import os
from pathlib import Path

from lsprotocol import types

from cnndsl.errors import Span
from cnndsl.lsp.convert import Converter
from cnndsl.lsp.occurrences import Occurrence


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def definition(ls, params: types.DefinitionParams):
        own, convert, o = _named_at(ls, params)
        target = defined_at(own, o) if o is not None else None
        return convert.location(target) if target is not None else None

    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    def references(ls, params: types.ReferenceParams):
        own, convert, o = _named_at(ls, params)
        if o is None or o.kind not in ("call", "block") or o.name not in own.program.blocks:
            return None
        block = own.program.blocks[o.name]
        found: dict[tuple, types.Location] = {}
        for checked in [own, *ls.checked.values()]:
            if block.name not in checked.program.blocks or \
                    checked.program.blocks[block.name].span != block.span:
                continue  # another block of the same name
            here = Converter(convert.codec, checked.texts)
            for other in checked.occurrences.items:
                wanted = other.kind == "call" or (
                    other.kind == "block" and params.context.include_declaration)
                if wanted and other.name == block.name:
                    key = (other.span.path, other.span.line, other.span.column)
                    found.setdefault(key, here.location(other.span))
        return [found[key] for key in sorted(found)]


def _named_at(ls, params):
    """The document's check, its converter, and the name at the request's position."""
    own = ls.fresh(params.text_document.uri)
    convert = ls.converter(own)
    line, column = convert.to_client(own.path, params.position)
    return own, convert, own.occurrences.at(own.path, line, column)


def defined_at(own, o: Occurrence) -> Span | None:
    """Where the name at an occurrence is defined (None for built-in ops)."""
    if o.kind == "import":
        target = os.path.normpath(Path(o.node.span.path).parent / o.name)
        return Span(target, 1, 1, 1, 1) if Path(target).is_file() else None
    definition = o.definition
    if o.kind == "call":
        local = _binding(own, definition, o.name) if not o.node.has_parens else None
        if local is not None:
            return local
        block = own.program.blocks.get(o.name)
        return _name_of(own, block) if block is not None else None
    if o.kind == "read":
        return _binding(own, definition, o.name)
    if o.kind == "function":
        function = own.program.functions.get(o.name)
        return (_find(own, function, "def", o.name) or function.span) if function else None
    if o.kind == "keyword" and o.node is not None:
        callee = own.program.blocks.get(o.node.name) or own.program.functions.get(o.node.name)
        return _find(own, callee, "param", o.name) if callee is not None else None
    if o.kind == "name":  # a let or parameter of the definition, or a top-level constant
        return _find(own, definition, "let", o.name) or \
            _find(own, definition, "param", o.name) or _find(own, None, "let", o.name)
    return None


def _binding(own, definition, name: str) -> Span | None:
    return _find(own, definition, "bind", name)


def _find(own, definition, kind: str, name: str) -> Span | None:
    for other in own.occurrences.items:
        if other.kind == kind and other.name == name and other.definition is definition:
            return other.span
    return None


def _name_of(own, block) -> Span:
    found = _find(own, block, "block", block.name)
    return found or block.span

