"""Completion and signature help, from the tokens before the cursor: at the start of
a statement, layers (ops), blocks, named values in scope and statement keywords;
inside `conv(` or `block_name(`, keyword arguments (with defaults and docs) and the
parameters and `let`s of the enclosing definition; after `in.`, the shape fields."""

from __future__ import annotations

from dataclasses import dataclass

from lsprotocol import types

from cnndsl.elaborate.builtins import BUILTINS
from cnndsl.elaborate.expressions import INPUT_ATTRS
from cnndsl.lsp.describe import arg_default, block_parameters, block_signature, \
    op_parameters, op_signature, source
from cnndsl.lsp.index import contains
from cnndsl.lsp.occurrences import walk
from cnndsl.ops import OPS, lookup
from cnndsl.ops.registry import ALIASES
from cnndsl.syntax import ast
from cnndsl.syntax.tokens import COMMENT, NEWLINE, all_tokens, is_trivia

STATEMENT_KEYWORDS = ("repeat", "for", "if", "let", "add", "concat", "mul", "path", "identity",
                      "input", "defaults", "output")
_STATEMENT_START = {"{", ";", "}", "else", None}


@dataclass
class Context:
    prefix: str  # the part of a word typed so far
    callee: str | None  # the layer or block whose parentheses the cursor is in
    argument: int  # which argument (0-based) of the callee
    keyword: str | None  # the `name=` the current argument starts with
    after: str | None  # the token before the word being typed
    statement_start: bool
    in_parameters: bool = False  # a block's or network's parameter list: new names


def context_at(text: str) -> Context:
    """What the cursor is in, from the text before it."""
    tokens = [t for t in all_tokens(text) if not is_trivia(t) and t.type != COMMENT]
    prefix = ""
    if tokens and tokens[-1].end_pos == len(text) and tokens[-1].value.isidentifier():
        prefix = tokens.pop().value
    stack: list[int] = []  # indices of open brackets
    for i, tok in enumerate(tokens):
        if tok.value in ("(", "[", "{"):
            stack.append(i)
        elif tok.value in (")", "]", "}") and stack:
            stack.pop()
    callee, argument, keyword, in_parameters = None, 0, None, False
    if stack and tokens[stack[-1]].value == "(":
        open_at = stack[-1]
        in_parameters = open_at > 1 and tokens[open_at - 2].type in ("BLOCK", "NETWORK")
        if open_at > 0 and tokens[open_at - 1].type == "NAME" and not in_parameters:
            callee = tokens[open_at - 1].value
        depth, start = 0, open_at + 1
        for i in range(open_at + 1, len(tokens)):
            value = tokens[i].value
            if value in ("(", "["):
                depth += 1
            elif value in (")", "]"):
                depth -= 1
            elif value == "," and depth == 0:
                argument, start = argument + 1, i + 1
        while start < len(tokens) and tokens[start].type == NEWLINE:  # arguments may wrap
            start += 1
        if start + 1 < len(tokens) and tokens[start + 1].value == "=":
            keyword = tokens[start].value
    last = tokens[-1] if tokens else None
    after = None if last is None else ("\n" if last.type == NEWLINE else last.value)
    in_body = not stack or tokens[stack[-1]].value == "{"
    return Context(prefix, callee, argument, keyword, after,
                   in_body and (after in _STATEMENT_START or after == "\n"), in_parameters)


def _offset(text: str, line: int, character: int) -> int:
    lines = text.splitlines(keepends=True)
    return sum(len(l) for l in lines[:line]) + character


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_COMPLETION,
                    types.CompletionOptions(trigger_characters=["(", ",", ".", " "]))
    def completion(ls, params: types.CompletionParams):
        own = ls.fresh(params.text_document.uri)
        line, column = ls.converter(own).to_client(own.path, params.position)
        before = own.text[:_offset(own.text, line - 1, column - 1)]
        return types.CompletionList(is_incomplete=False,
                                    items=items(own, ls.context(params.text_document.uri),
                                                context_at(before), line, column))

    @server.feature(types.TEXT_DOCUMENT_SIGNATURE_HELP,
                    types.SignatureHelpOptions(trigger_characters=["(", ","],
                                               retrigger_characters=[","]))
    def signature_help(ls, params: types.SignatureHelpParams):
        own = ls.fresh(params.text_document.uri)
        line, column = ls.converter(own).to_client(own.path, params.position)
        ctx = context_at(own.text[:_offset(own.text, line - 1, column - 1)])
        return signature(own, ctx)


def items(own, built, ctx: Context, line: int, column: int) -> list[types.CompletionItem]:
    if ctx.after == "->" or ctx.in_parameters:
        return []  # a new name
    if ctx.after == ".":
        return [types.CompletionItem(label=name, kind=types.CompletionItemKind.Field,
                                     detail=f"in.{name}") for name in INPUT_ATTRS]
    definition = _enclosing(own, line, column)
    result = []
    if ctx.callee is not None and ctx.after in ("(", ","):
        result += _keyword_arguments(own, ctx)
    if ctx.statement_start:
        result += _layers() + _blocks(own) + _statement_keywords()
        result += _named_values(own, built, definition, line, column)
    else:
        result += _expression_names(own, definition, line, column)
    return result


def _layers() -> list[types.CompletionItem]:
    result = []
    for name in sorted([*OPS, *ALIASES]):
        op = lookup(name)
        if op.arity != 1 or name == "input":
            continue
        result.append(types.CompletionItem(
            label=name, kind=types.CompletionItemKind.Function, detail=op_signature(op),
            documentation=op.doc, sort_text=f"1{name}"))
    return result


def _blocks(own) -> list[types.CompletionItem]:
    return [types.CompletionItem(
        label=name, kind=types.CompletionItemKind.Class,
        detail=f"block {block_signature(block, own.texts)}",
        documentation=f"defined in {block.span.path}:{block.span.line}", sort_text=f"0{name}")
        for name, block in sorted(own.program.blocks.items())]


def _statement_keywords() -> list[types.CompletionItem]:
    return [types.CompletionItem(label=word, kind=types.CompletionItemKind.Keyword,
                                 sort_text=f"3{word}") for word in STATEMENT_KEYWORDS]


def _keyword_arguments(own, ctx: Context) -> list[types.CompletionItem]:
    op = lookup(ctx.callee)
    if op is not None:
        entries = [(arg.name, arg_default(arg.default), arg.doc) for arg in op.args]
    elif ctx.callee in own.program.blocks or ctx.callee in own.program.functions:
        block = own.program.blocks.get(ctx.callee) or own.program.functions[ctx.callee]
        entries = [(p.name, source(own.texts, p.default.span) if p.default else None, "")
                   for p in block.params]
    else:
        return []
    return [types.CompletionItem(
        label=f"{name}=", kind=types.CompletionItemKind.Property,
        detail=f"default {default}" if default is not None else "required",
        documentation=doc or None, insert_text=f"{name}=", sort_text=f"0{k:02d}")
        for k, (name, default, doc) in enumerate(entries)]


def _enclosing(own, line: int, column: int):
    for definition in (*own.module.blocks, *own.module.networks):
        if contains(definition.span, line, column):
            return definition
    return None


def _before(span, line: int, column: int) -> bool:
    return (span.line, span.column) < (line, column)


def _named_values(own, built, definition, line, column) -> list[types.CompletionItem]:
    """Tensors named (`-> x`) earlier in the enclosing definition."""
    if definition is None:
        return []
    names = []
    for node, _ in walk(definition.body):
        if isinstance(node, ast.Statement) and node.bind and _before(node.span, line, column):
            if node.bind not in names:
                names.append(node.bind)
    return [types.CompletionItem(label=name, kind=types.CompletionItemKind.Variable,
                                 detail="named value", sort_text=f"0{name}") for name in names]


def _expression_names(own, definition, line, column) -> list[types.CompletionItem]:
    result = []
    if definition is not None:
        for param in definition.params:
            default = f" = {source(own.texts, param.default.span)}" if param.default else ""
            result.append(types.CompletionItem(
                label=param.name, kind=types.CompletionItemKind.Variable,
                detail=f"parameter of {definition.name}{default}", sort_text=f"1{param.name}"))
        body = definition.lets if isinstance(definition, ast.FuncDef) else definition.body
        for node, _ in walk(body):
            if isinstance(node, ast.Let) and _before(node.span, line, column):
                result += _lets(own, node, "1")
            elif isinstance(node, ast.Repeat) and node.index and contains(node.span, line,
                                                                         column):
                result.append(types.CompletionItem(
                    label=node.index, kind=types.CompletionItemKind.Variable,
                    detail="repeat index", sort_text=f"1{node.index}"))
    for constant in own.program.constants:
        result += _lets(own, constant, "2")
    result += [types.CompletionItem(label=word, kind=types.CompletionItemKind.Keyword,
                                    sort_text=f"3{word}") for word in ("true", "false", "in")]
    result += [types.CompletionItem(
        label=name, kind=types.CompletionItemKind.Function,
        detail=f"def {block_signature(function, own.texts)}", sort_text=f"4{name}")
        for name, function in sorted(own.program.functions.items())]
    result += [types.CompletionItem(label=name, kind=types.CompletionItemKind.Function,
                                    detail=builtin.usage, documentation=builtin.doc,
                                    sort_text=f"5{name}")
               for name, builtin in sorted(BUILTINS.items())]
    return result


def _lets(own, let: ast.Let, rank: str) -> list[types.CompletionItem]:
    shown = f"let {', '.join(let.names)} = {source(own.texts, let.value.span)}"
    return [types.CompletionItem(label=name, kind=types.CompletionItemKind.Variable,
                                 detail=shown, sort_text=f"{rank}{name}") for name in let.names]


def signature(own, ctx: Context) -> types.SignatureHelp | None:
    if ctx.callee is None:
        return None
    op = lookup(ctx.callee)
    if op is not None:
        label, parameters, doc = op_signature(op), op_parameters(op), op.doc
    elif ctx.callee in own.program.blocks or ctx.callee in own.program.functions:
        block = own.program.blocks.get(ctx.callee) or own.program.functions[ctx.callee]
        label, parameters = block_signature(block, own.texts), block_parameters(block,
                                                                                own.texts)
        kind = "block" if ctx.callee in own.program.blocks else "def"
        doc = f"{kind} defined in {block.span.path}:{block.span.line}"
    elif ctx.callee in BUILTINS:
        builtin = BUILTINS[ctx.callee]
        label, doc = builtin.usage, builtin.doc
        inside = label[label.find("(") + 1:label.rfind(")")]
        parameters = [(part.strip(), "") for part in inside.split(",") if part.strip()]
    else:
        return None
    names = [p.split("=")[0] for p, _ in parameters]
    active = names.index(ctx.keyword) if ctx.keyword in names else min(
        ctx.argument, max(0, len(names) - 1))
    return types.SignatureHelp(
        signatures=[types.SignatureInformation(
            label=label, documentation=doc,
            parameters=[types.ParameterInformation(label=p, documentation=d or None)
                        for p, d in parameters])],
        active_signature=0, active_parameter=active)
