"""Labels (`layer1: ...`): which labels a scope's statements declare, so that
automatic names (`conv1`, `basic2`) never take a name a label will use.

A scope is the network, a block call or a labelled group; its labels are those
of its statements and of the bodies nested in them (repeat, for, if, merge,
path), except inside labelled statements and paths, which open scopes of their
own."""

from __future__ import annotations

from cnndsl.syntax import ast


def declared_labels(statements) -> set[str]:
    found: set[str] = set()
    for st in statements:
        _collect(st, found)
    return found


def _collect(node, found: set[str]) -> None:
    label = getattr(node, "label", None)
    if label is not None:  # a scope of its own (bare `sequential`: automatically named)
        if label.name is not None:
            found.add(label.name)
        return
    if isinstance(node, ast.Statement):
        _collect(node.action, found)
    elif isinstance(node, ast.Body):
        for st in node.statements:
            _collect(st, found)
    elif isinstance(node, (ast.Repeat, ast.For)):
        _collect(node.body, found)
    elif isinstance(node, ast.If):
        _collect(node.then, found)
        if node.otherwise is not None:
            _collect(node.otherwise, found)
    elif isinstance(node, ast.Merge):
        for branch in node.branches:
            _collect(branch, found)
    elif isinstance(node, ast.Path):
        _collect(node.body, found)
        if node.otherwise is not None:
            _collect(node.otherwise, found)
