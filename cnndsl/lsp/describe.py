"""How the editor shows ops, blocks, layers and block calls: signatures and the
per-instance tables of shapes and costs that hover prints."""

from __future__ import annotations

from cnndsl.ir.graph import format_shape
from cnndsl.lsp.index import Anchor
from cnndsl.ops import OPS
from cnndsl.ops.args import show
from cnndsl.ops.registry import REQUIRED, OpDef, SameAs
from cnndsl.report.table import human

MAX_ROWS = 8


def arg_default(default) -> str | None:
    if default is REQUIRED:
        return None
    if isinstance(default, SameAs):
        return default.other
    return show(default)


def op_parameters(op: OpDef) -> list[tuple[str, str]]:
    """(label, documentation) per argument: `stride=1`, `channels`."""
    result = []
    for arg in op.args:
        default = arg_default(arg.default)
        result.append((arg.name if default is None else f"{arg.name}={default}", arg.doc))
    return result


def op_signature(op: OpDef) -> str:
    return f"{op.name}({', '.join(label for label, _ in op_parameters(op))})"


def block_parameters(block, texts: dict[str, str]) -> list[tuple[str, str]]:
    """(label, documentation) per parameter of a block or `def` function."""
    return [(p.name if p.default is None else f"{p.name}={source(texts, p.default.span)}", "")
            for p in block.params]


def block_signature(block, texts: dict[str, str]) -> str:
    return f"{block.name}({', '.join(label for label, _ in block_parameters(block, texts))})"


def source(texts: dict[str, str], span) -> str:
    """The text a span covers (on one line; the first line of a longer span)."""
    lines = texts.get(span.path, "").splitlines()
    if not 0 < span.line <= len(lines):
        return "?"
    line = lines[span.line - 1]
    end = span.end_column if span.end_line == span.line and span.end_column else len(line) + 1
    return line[span.column - 1:end - 1]


def op_markdown(op: OpDef) -> str:
    lines = [f"```cnn\n{op_signature(op)}\n```", op.doc]
    documented = [(a.name, a.doc) for a in op.args if a.doc]
    if documented:
        lines.append("\n".join(f"- `{name}`: {doc}" for name, doc in documented))
    if op.aliases:
        lines.append(f"also written: {', '.join(op.aliases)}")
    return "\n\n".join(lines)


def layers_markdown(checked, anchor: Anchor) -> str:
    """A table of every instance of the layer(s) written at `anchor`."""
    index, stats = checked.index, checked.analysis.nodes
    nodes = [index.node(i) for i in anchor.layers]
    ops = sorted({n.op for n in nodes})
    head = ", ".join(f"**{op}**" for op in ops)
    count = f" — {len(nodes)} instances" if len(nodes) > 1 else ""
    rows = ["| layer | output | params | MACs | RF |", "|---|---|--:|--:|--:|"]
    for node in nodes[:MAX_ROWS]:
        s = stats[node.id]
        rows.append(f"| `{node.name}` | {format_shape(node.shape)} | {_count(s.cost.params)} | "
                    f"{_macs(s.cost.macs)} | {_field(s.receptive_field)} |")
    if len(nodes) > MAX_ROWS:
        rows.append(f"| … {len(nodes) - MAX_ROWS} more | | | | |")
    parts = [head + count, "\n".join(rows)]
    if len(ops) == 1 and ops[0] in OPS:
        op = OPS[ops[0]]
        parts.append(f"`{op_signature(op)}` — {op.doc}")
    return "\n\n".join(parts)


def calls_markdown(checked, anchor: Anchor) -> str:
    """Each run of the block call at `anchor`: bound arguments, output, costs."""
    index, stats = checked.index, checked.analysis.nodes
    calls = list(anchor.calls.values())
    first = calls[0].frame
    block = checked.program.blocks.get(first.block)
    title = f"**{first.block}**" + (f" `{block_signature(block, checked.texts)}`" if block else "")
    if len(calls) == 1:
        call = calls[0]
        args = ", ".join(f"{k}={show(v)}" for k, v in call.frame.args)
        out = index.node(call.output)
        params = sum(stats[i].cost.params for i in call.nodes)
        macs = sum(stats[i].cost.macs for i in call.nodes)
        return "\n\n".join([
            title, f"`{first.block}({args})` → **{format_shape(out.shape)}**",
            f"`{call.frame.name}` · {len(call.nodes)} layers · params {_count(params)} · "
            f"MACs {_macs(macs)} · receptive field {_field(stats[call.output].receptive_field)}"])
    rows = ["| call | arguments | output | params | MACs |", "|---|---|---|--:|--:|"]
    for call in calls[:MAX_ROWS]:
        args = ", ".join(f"{k}={show(v)}" for k, v in call.frame.args)
        out = index.node(call.output)
        params = sum(stats[i].cost.params for i in call.nodes)
        macs = sum(stats[i].cost.macs for i in call.nodes)
        rows.append(f"| `{call.frame.name}` | {args} | {format_shape(out.shape)} | "
                    f"{_count(params)} | {_macs(macs)} |")
    if len(calls) > MAX_ROWS:
        rows.append(f"| … {len(calls) - MAX_ROWS} more | | | | |")
    return "\n\n".join([f"{title} — {len(calls)} calls", "\n".join(rows)])


def _count(n: int) -> str:
    return f"{n:,}" if n else "–"


def _macs(n: int) -> str:
    return human(n) if n else "–"


def _field(rf) -> str:
    size = rf.size[0] if rf.size[0] == rf.size[1] else format_shape(rf.size)
    jump = rf.jump[0] if rf.jump[0] == rf.jump[1] else "x".join(str(j) for j in rf.jump)
    return f"{size} (jump {jump})"
