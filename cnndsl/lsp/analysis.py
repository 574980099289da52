"""Check one document for the editor: every diagnostic, and the network as far as it
could be built (so shapes show up to the first error, and around a half-typed line).

This is `cnndsl check` made tolerant: the parser recovers from syntax errors
(cnndsl.syntax.recover), imports and block definitions report each problem and go
on, and elaboration keeps the layers it built before an error.  Parsed files are
cached by content, so re-checking a spec does not re-parse an unchanged library.
Nothing here imports torch.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from dataclasses import dataclass, field
from typing import Callable

from cnndsl.analysis import Analysis, analyse
from cnndsl.elaborate.elaborator import Elaborator, Unfinished, finish, pick_network
from cnndsl.elaborate.program import Program, load_program, read_spec
from cnndsl.elaborate.size import check_size
from cnndsl.elaborate.usage import unused_named_values, unused_parameters
from cnndsl.errors import Diagnostic, Span, SpecError
from cnndsl.ir.graph import Graph
from cnndsl.syntax import ast
from cnndsl.syntax.parser import parse_text
from cnndsl.syntax.recover import parse_recovering


@functools.lru_cache(maxsize=256)
def _parse(text: str, path: str) -> tuple[ast.Module, tuple[Diagnostic, ...]]:
    """The strict parser first (lark's own loop, the faster one); the recovering one
    only for a file with syntax errors."""
    try:
        return parse_text(text, path, all_errors=False), ()
    except SpecError:
        module, errors = parse_recovering(text, path)
        return module, tuple(errors)


@dataclass
class Checked:
    """One document after checking."""

    path: str
    text: str
    program: Program
    diagnostics: list[Diagnostic]
    graph: Graph | None  # None for a library (no network) or when nothing could be built
    complete: bool  # the whole network was built (no error stopped it)
    texts: dict[str, str] = field(default_factory=dict)  # source of every file read
    modules: dict[str, ast.Module] = field(default_factory=dict)  # and its syntax tree

    @property
    def module(self) -> ast.Module:
        return self.modules[self.path]

    @functools.cached_property
    def analysis(self) -> Analysis | None:
        """Parameters, MACs and receptive fields per node (computed on first use)."""
        return analyse(self.graph) if self.graph is not None else None

    @functools.cached_property
    def index(self):
        from cnndsl.lsp.index import NodeIndex
        return NodeIndex(self.graph)

    @functools.cached_property
    def occurrences(self):
        from cnndsl.lsp.occurrences import Occurrences
        return Occurrences(self)


@contextlib.contextmanager
def _cycle_collector_paused():
    """A check makes hundreds of thousands of short-lived objects without reference
    cycles (tokens, trees, AST and IR nodes), which reference counting frees; the
    cycle collector would scan them, and all the server keeps, again and again
    (the 2,000-block spec checked 1.3 to 2.2 times faster without it)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def check(text: str, path: str, read: Callable[..., str] = read_spec) -> Checked:
    """Check `text` as the spec at `path`; `read(path, budget)` supplies imported files
    (at most `budget` bytes: cnndsl.limits.SPEC_BYTES bounds a spec and its imports)."""
    with _cycle_collector_paused():
        return _check(text, path, read)


def _check(text: str, path: str, read: Callable[..., str]) -> Checked:
    texts: dict[str, str] = {}
    modules: dict[str, ast.Module] = {}
    syntax: list[Diagnostic] = []
    other: list[Diagnostic] = []

    def parse(source: str, file: str) -> ast.Module:
        module, errors = _parse(source, file)
        texts[file], modules[file] = source.removeprefix("\ufeff"), module
        syntax.extend(errors)
        return module

    try:
        program = load_program(text, path, parse=parse,
                               read=lambda p, budget=None: read(str(p), budget),
                               report=lambda exc: other.extend(exc.diagnostics))
    except SpecError as exc:  # beyond the limits (cnndsl.limits): not read at all
        modules[path] = ast.Module(path, (), (), ())
        return Checked(path, text, Program(path, files=[path]), exc.diagnostics, None, False,
                       {path: text}, modules)
    checked = Checked(path, text, program, [], None, False, texts, modules)
    unreadable = {d.span.path for d in syntax if d.span is not None}
    readable = lambda definition: definition.span.path not in unreadable or not _has_broken(
        definition)  # a parameter may be read only in an unreadable line
    if program.networks:
        other += _elaborate(checked, readable)
    else:  # a library: its definitions' own checks
        other += [w for block in modules[path].blocks if readable(block)
                  for rule in (unused_parameters, unused_named_values) for w in rule(block)]
    if syntax:  # an unreadable expression (a placeholder name) raises nothing new
        other = [d for d in other if ast.BROKEN not in d.message]
    checked.diagnostics = [*syntax, *other]
    return checked


def _elaborate(checked: Checked, readable) -> list[Diagnostic]:
    program = checked.program
    try:
        net = pick_network(program, None)
    except SpecError as exc:
        return exc.diagnostics
    first = next((st.action for st in net.body.statements
                  if not isinstance(st.action, ast.Let)), None)  # lets may precede `input`
    if getattr(first, "name", None) == ast.BROKEN:
        return []  # perhaps the unreadable line was the input: nothing to build
    try:
        check_size(program, net)  # an exponential spec is refused before it is built
        elaborator = Elaborator(program)  # (it evaluates the top-level constants)
    except SpecError as exc:
        return exc.diagnostics
    try:
        graph = elaborator.network(net, None, {})
        checked.graph, warnings = finish(elaborator, net, graph, lint=readable)
    except (SpecError, Unfinished, RecursionError) as exc:
        nodes = elaborator.builder.nodes
        if nodes:
            checked.graph = Graph(net.name, nodes, len(nodes) - 1, (), program.path)
        problems = elaborator.warnings()
        if isinstance(exc, SpecError):
            problems = [*exc.diagnostics, *problems]
        elif isinstance(exc, RecursionError):
            problems.insert(0, Diagnostic("error", f"{program.path} nests too deeply to check",
                                          Span(program.path, 1, 1)))
        return problems
    checked.complete = True
    return warnings


def _has_broken(definition) -> bool:
    from cnndsl.lsp.occurrences import walk
    return any(isinstance(item, ast.Call) and item.name == ast.BROKEN
               for item, _ in walk(definition.body))
