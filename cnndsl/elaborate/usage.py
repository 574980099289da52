"""Static checks over the AST for what a spec declares but never uses: a block
argument or network parameter nothing reads (a `--set` or a call argument that
would silently change nothing), and where named values are bound (for errors
that name a value where it cannot be seen)."""

from __future__ import annotations

import dataclasses
from typing import Iterator

from cnndsl.errors import Diagnostic, Span
from cnndsl.syntax import ast


def _walk(node) -> Iterator[object]:
    """Every AST node below `node` (dataclasses, through tuples and lists)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, (tuple, list)):
            stack.extend(item)
        elif dataclasses.is_dataclass(item) and not isinstance(item, Span):
            yield item
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))


def referenced_names(node) -> set[str]:
    return {item.name for item in _walk(node) if isinstance(item, ast.NameRef)}


def switch_parameters(definition: ast.BlockDef) -> tuple[str, ...]:
    """The parameters a block's `if`s test, then those its `path if`s test (directly
    or through its `let`s: `let residual = s == 1 ...`), each in declaration order:
    why its calls may build different layers, the likeliest first (a `path if` is
    often an optional shortcut, which needs no other structure)."""
    lets = {name: referenced_names(item.value) for item in _walk(definition.body)
            if isinstance(item, ast.Let) for name in item.names}
    found = []
    for kind in (ast.If, ast.Path):
        tested = set()
        for item in _walk(definition.body):
            if isinstance(item, kind) and item.condition is not None:
                tested |= referenced_names(item.condition)
        seen, todo = set(), list(tested)
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(lets.get(name, ()))
        found += [p.name for p in definition.params if p.name in seen and p.name not in found]
    return tuple(found)


def unused_parameters(definition: ast.BlockDef | ast.NetworkDef) -> list[Diagnostic]:
    """A warning for each parameter that neither the body nor a later default reads."""
    used = referenced_names(definition.body) | referenced_names(
        [p.default for p in definition.params if p.default is not None])
    kind = "block" if isinstance(definition, ast.BlockDef) else "network"
    hint = ("use it, or remove it" if kind == "block"
            else "use it, or remove it: `--set` would change nothing")
    return [Diagnostic("warning", f"{kind} {definition.name!r} never uses its parameter "
                       f"{p.name!r}", p.span, hint)
            for p in definition.params if p.name not in used]


def unused_named_values(definition: ast.BlockDef | ast.NetworkDef) -> list[Diagnostic]:
    """A warning for each `-> NAME` that nothing in the same definition reads, in any
    branch: a block read only on some calls (an `else x` shortcut) is fine."""
    read = set()
    for item in _walk(definition.body):
        if isinstance(item, ast.Call) and not item.has_parens:
            read.add(item.name)
        elif isinstance(item, ast.Path) and item.source:
            read.add(item.source)
        elif isinstance(item, ast.Keyword) and isinstance(item.value, ast.NameRef):
            read.add(item.value.name)  # a tensor argument, `crop(like=up)`
    return [Diagnostic("warning", f"named value {name!r} is never used", span,
                       f"read it by name (e.g. `concat {{ identity; {name} }}`), "
                       f"or remove `-> {name}`")
            for name, span in binding_sites([definition]).items() if name not in read]


def binding_sites(definitions) -> dict[str, Span]:
    """Where each named value (`-> NAME`) is first bound, over the given definitions."""
    sites: dict[str, Span] = {}
    for item in _walk(list(definitions)):
        if isinstance(item, ast.Statement) and item.bind and item.bind not in sites:
            sites[item.bind] = item.span
    return sites
