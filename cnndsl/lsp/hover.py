"""Hover: what a layer, block call, named value or parameter is in the built network
(output shape, parameters, MACs, receptive field, a call's bound arguments), and an
op's signature and documentation."""

from __future__ import annotations

from lsprotocol import types

from cnndsl.ir.graph import format_shape
from cnndsl.lsp.describe import block_signature, calls_markdown, layers_markdown, \
    op_markdown, source
from cnndsl.lsp.occurrences import walk
from cnndsl.ops import lookup
from cnndsl.ops.args import show
from cnndsl.syntax import ast


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls, params: types.HoverParams):
        uri = params.text_document.uri
        own = ls.fresh(uri)
        convert = ls.converter(own)
        line, column = convert.to_client(own.path, params.position)
        found = describe_at(own, ls.context(uri), line, column)
        if found is None:
            return None
        markdown, span = found
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                                        value=markdown),
                           range=convert.range(span))


def describe_at(own, built, line: int, column: int):
    """(markdown, span) for the position, from `own`'s syntax and the network `built`
    (the document's own check, or an importing spec's for a library)."""
    occurrence = own.occurrences.at(own.path, line, column)
    anchor = built.index.at(own.path, line, column) if built.graph is not None else None
    if occurrence is not None:
        text = _occurrence(own, built, occurrence, anchor)
        if text:
            return text, occurrence.span
    if anchor is not None:
        return _anchor(built, anchor), anchor.span
    return None


def _anchor(built, anchor) -> str:
    parts = []
    if anchor.calls:
        parts.append(calls_markdown(built, anchor))
    if anchor.layers:
        parts.append(layers_markdown(built, anchor))
    return "\n\n---\n\n".join(parts)


def _occurrence(own, built, o, anchor) -> str | None:
    definition = o.definition
    if o.kind == "call":
        if isinstance(o.node, ast.Call) and not o.node.has_parens and \
                o.name in _bound_names(definition):
            return _tensor(built, definition, o.name)
        block = own.program.blocks.get(o.name)
        if anchor is not None and (anchor.layers or anchor.calls):
            return _anchor(built, anchor)
        if block is not None:
            return f"**block** `{block_signature(block, own.texts)}`\n\n" \
                   f"defined in `{block.span.path}:{block.span.line}`"
        op = lookup(o.name)
        return op_markdown(op) if op is not None else None
    if o.kind == "keyword" and isinstance(o.node, (ast.Call, ast.FuncCall)):
        return _keyword(own, o.node.name, o.name)
    if o.kind == "function":
        return _function(own, o.name)
    if o.kind in ("bind", "read"):
        return _tensor(built, definition, o.name)
    if o.kind in ("name", "param"):
        return _parameter(own, built, definition, o.name)
    if o.kind == "let":
        return _let(own, o.node)
    if o.kind == "def":
        return _function(own, o.name)
    if o.kind == "block":
        calls = sum(1 for a in _all_calls(built) if a.frame.block == o.name)
        return f"**block** `{block_signature(o.node, own.texts)}`" + (
            f"\n\ncalled {calls} time{'s' * (calls != 1)} in `{built.graph.name}`"
            if built.graph is not None else "")
    if o.kind == "network" and built.graph is not None and built.complete:
        a = built.analysis
        return (f"**network** `{o.name}`: {format_shape(built.graph.input.shape)} → "
                f"{format_shape(built.graph.output_node.shape)}\n\n"
                f"{len(built.graph.nodes) - 1} layers · params {a.total_params:,} · "
                f"MACs {a.total_macs:,}" + ("\n\n" + "\n".join(
                    f"- output `{o.name}` {format_shape(o.shape)}: params {o.params:,} · "
                    f"MACs {o.macs:,}" for o in a.by_output()) if built.graph.heads else ""))
    return None


def _keyword(own, callee: str, name: str) -> str | None:
    op = lookup(callee)
    if op is not None:
        arg = next((a for a in op.args if a.name == name), None)
        if arg is not None:
            return f"`{op.name}` argument **{name}**" + (f": {arg.doc}" if arg.doc else "")
    block = own.program.blocks.get(callee) or own.program.functions.get(callee)
    if block is not None:
        param = next((p for p in block.params if p.name == name), None)
        if param is not None:
            default = f" (default `{source(own.texts, param.default.span)}`)" \
                if param.default is not None else ""
            return f"parameter **{name}** of `{block_signature(block, own.texts)}`{default}"
    return None


def _parameter(own, built, definition, name: str) -> str | None:
    """A block parameter's value in each call, or a network parameter's value."""
    if isinstance(definition, ast.BlockDef) and name in [p.name for p in definition.params]:
        values = []
        for call in _all_calls(built):
            if call.frame.block == definition.name:
                value = dict(call.frame.args).get(name)
                if value not in values:
                    values.append(value)
        shown = " · ".join(f"`{show(v)}`" for v in values[:8]) or "not called"
        return f"parameter **{name}** of block `{definition.name}`: {shown}"
    if isinstance(definition, ast.NetworkDef) and built.graph is not None:
        params = dict(built.graph.params)
        if name in params:
            return f"network parameter **{name}** = `{show(params[name])}`"
    for node, _ in walk(definition.body if isinstance(
            definition, (ast.BlockDef, ast.NetworkDef)) else ()):
        if isinstance(node, ast.Let) and name in node.names:
            return _let(own, node)
    for constant in own.program.constants:
        if name in constant.names:
            return "constant " + _let(own, constant)
    return None


def _let(own, let: ast.Let) -> str:
    return f"`let {', '.join(let.names)} = {source(own.texts, let.value.span)}`"


def _function(own, name: str) -> str | None:
    """A `def` of the spec (its signature and where it is), or a built-in function."""
    from cnndsl.elaborate.builtins import BUILTINS
    function = own.program.functions.get(name)
    if function is not None:
        return f"**def** `{block_signature(function, own.texts)}`\n\n" \
               f"defined in `{function.span.path}:{function.span.line}`"
    builtin = BUILTINS.get(name)
    if builtin is not None:
        return f"`{builtin.usage}` — {builtin.doc}"
    return None


def _tensor(built, definition, name: str) -> str | None:
    """A named value: the shape(s) of the statement that binds it."""
    if built.graph is None or definition is None:
        return None
    for node, _ in walk(definition.body):
        if isinstance(node, ast.Statement) and node.bind == name:
            anchors = built.index.by_path.get(node.action.span.path, {})
            anchor = anchors.get(node.action.span)
            if anchor is None:
                return f"named value **{name}**"
            shapes = []
            for i in anchor.outputs():
                shape = format_shape(built.index.node(i).shape)
                if shape not in shapes:
                    shapes.append(shape)
            return f"named value **{name}**: {' · '.join(shapes)}"
    return None


def _bound_names(definition) -> set[str]:
    if definition is None:
        return set()
    return {n.bind for n, _ in walk(definition.body) if isinstance(n, ast.Statement) and n.bind}


def _all_calls(built):
    if built.graph is None:
        return []
    return [call for anchors in built.index.by_path.values() for a in anchors.values()
            for call in a.calls.values()]
