"""Call-chain notes: a problem inside a block says where the block was called, through
every enclosing call up to the network, like rustc's "in this macro invocation"
notes (`note: in bottleneck(c=64, stride=2) called here`, with the call's line)."""

from __future__ import annotations

from cnndsl.elaborate.expressions import Evaluator
from cnndsl.errors import Diagnostic, Span, SpecError
from cnndsl.ir.graph import ScopeFrame
from cnndsl.ops.args import show
from cnndsl.syntax import ast


def call_signature(block: ast.BlockDef, args: dict[str, object]) -> str:
    """`bottleneck(c=64, stride=2)`: the arguments that differ from their defaults
    (all of them for parameters without one), so the note shows what makes this
    call different from the others."""
    shown = []
    for param in block.params:
        if param.name not in args:
            continue
        value = args[param.name]
        if param.default is not None:
            earlier = {p.name: args[p.name] for p in block.params[:block.params.index(param)]
                       if p.name in args}
            try:
                default = Evaluator(earlier, None)(param.default)
            except (SpecError, ArithmeticError, ValueError, TypeError):
                default = _UNKNOWN  # e.g. a default that reads in.channels
            if type(default) is type(value) and default == value:
                continue
        shown.append(f"{param.name}={show(value)}")
    return f"{block.name}({', '.join(shown)})"


_UNKNOWN = object()


def call_note(block: ast.BlockDef, args: dict[str, object], span: Span,
              label: str | None = None) -> tuple[Span, str]:
    named = f"{label}: " if label else ""  # `in layer1: basic_stage(n=2, c=64) called here`
    return span, f"in {named}{call_signature(block, args)} called here"


def note_call(exc: SpecError, block: ast.BlockDef, args: dict[str, object],
              span: Span, label: str | None = None) -> None:
    """Add 'in [LABEL: ]BLOCK(...) called here' to an error raised inside the call (the
    innermost call is added first, as the error travels out)."""
    note = call_note(block, args, span, label)
    exc.diagnostics = [_with_note(d, note) for d in exc.diagnostics]


def chain_notes(scope: tuple[ScopeFrame, ...],
                blocks: dict[str, ast.BlockDef]) -> tuple[tuple[Span, str], ...]:
    """The notes of a whole scope, innermost call first."""
    notes = []
    for frame in reversed(scope):
        block = blocks.get(frame.block)
        if block is not None and not frame.group:
            notes.append(call_note(block, dict(frame.args), frame.span, frame.label))
    return tuple(notes)


def _with_note(diagnostic: Diagnostic, note: tuple[Span, str]) -> Diagnostic:
    return Diagnostic(diagnostic.severity, diagnostic.message, diagnostic.span,
                      diagnostic.hint, (*diagnostic.notes, note))


def merge_repeated(warnings: list[tuple[Diagnostic, tuple[ScopeFrame, ...]]],
                   blocks: dict[str, ast.BlockDef]) -> list[Diagnostic]:
    """One warning per source line and message, however many calls of its block
    raise it: the first call's chain, and how many more calls there were."""
    first: dict[tuple, tuple[Diagnostic, tuple[ScopeFrame, ...]]] = {}
    counts: dict[tuple, int] = {}
    for diagnostic, scope in warnings:
        key = (diagnostic.severity, diagnostic.message, diagnostic.span, diagnostic.hint)
        first.setdefault(key, (diagnostic, scope))
        counts[key] = counts.get(key, 0) + 1
    result = []
    for key, (diagnostic, scope) in first.items():
        notes = list(chain_notes(scope, blocks))
        if notes and counts[key] > 1:
            span, text = notes[-1]
            more = counts[key] - 1
            notes[-1] = (span, f"{text} (and {more} more call{'s' * (more != 1)})")
        result.append(Diagnostic(diagnostic.severity, diagnostic.message, diagnostic.span,
                                 diagnostic.hint, (*diagnostic.notes, *notes)))
    return result
