"""Renderings of a Timing: a console table in the look of `cnndsl check`, and JSON."""

from __future__ import annotations

from cnndsl.ir.graph import format_shape
from cnndsl.ops import OPS
from cnndsl.profile.timer import PassTime, Timing

COLUMNS = ("Layer", "Op", "Output", "Forward ms", "Backward ms", "Total ms", "Share")
AGREEMENT = 0.10  # the per-layer sum should be within 10% of the plain loop


def _ms(value: float) -> str:
    return f"{value:.3f}"


def _pass(p: PassTime) -> dict:
    return {"forward_ms": p.forward_ms, "backward_ms": p.backward_ms, "total_ms": p.total_ms}


def to_json(timing: Timing) -> dict:
    """The machine-readable timing; every ms figure is a median over iterations."""
    total = timing.layer_sum.total_ms
    o = timing.options
    return {
        "network": timing.network,
        "device": o.device, "device_name": timing.device_name, "threads": timing.threads,
        "input": list(timing.input), "batch": o.batch, "iterations": o.iterations,
        "warmup": o.warmup, "forward_only": o.forward_only, "amp": o.amp,
        "channels_last": o.channels_last,
        "layers": [{"name": t.node.name, "op": t.node.op,
                    "output": list(t.node.shape),
                    "forward_ms": t.forward_ms, "backward_ms": t.backward_ms,
                    "total_ms": t.total_ms, "share": t.total_ms / total if total else 0.0}
                   for t in timing.layers],
        "layers_total": _pass(timing.layer_sum),
        "whole_model": _pass(timing.plain),
        "stepwise_run": _pass(timing.instrumented),
        "difference": timing.difference,
    }


def summary_lines(timing: Timing) -> list[str]:
    o, s, p = timing.options, timing.layer_sum, timing.plain
    mode = "forward only (eval, no_grad)" if o.forward_only else "forward + backward (train)"
    flags = [f for f, on in (("amp", o.amp), ("channels_last", o.channels_last)) if on]
    lines = [
        f"Sum of layers: forward {_ms(s.forward_ms)} ms, backward {_ms(s.backward_ms)} ms, "
        f"total {_ms(s.total_ms)} ms",
        f"Whole model (plain loop of module(x){'' if o.forward_only else '; backward'}): "
        f"forward {_ms(p.forward_ms)} ms, backward {_ms(p.backward_ms)} ms, "
        f"total {_ms(p.total_ms)} ms, {o.batch / p.total_ms * 1000:.1f} samples/s",
        f"Sum of layers vs whole model: {timing.difference:+.1%}",
        f"{mode}; batch {o.batch}; median of {o.iterations} iterations after {o.warmup} "
        f"warm-up; {timing.device_name}"
        + (f", {timing.threads} threads" if o.device == "cpu" else "")
        + (f"; {', '.join(flags)}" if flags else ""),
    ]
    if abs(timing.difference) > AGREEMENT:
        lines.append(f"note: the per-layer sum is more than {AGREEMENT:.0%} off the plain loop; "
                     f"the machine may be busy: try more --iterations or --threads 1")
    return lines


def rows(timing: Timing) -> list[tuple[str, ...]]:
    total = timing.layer_sum.total_ms
    backward = not timing.options.forward_only
    return [(t.node.name, OPS[t.node.op].describe(dict(t.node.attrs)), format_shape(t.node.shape),
             _ms(t.forward_ms), _ms(t.backward_ms) if backward else "-", _ms(t.total_ms),
             f"{t.total_ms / total:.1%}" if total else "-")
            for t in timing.layers]


def render_table(timing: Timing) -> str:
    body = rows(timing)
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(COLUMNS)]

    def fmt(cells) -> str:
        return "  ".join(c.rjust(w) if i >= 3 else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "=" * len(fmt(COLUMNS))
    lines = [f"{timing.network}, input {format_shape(timing.input)} on {timing.options.device}",
             rule, fmt(COLUMNS), "-" * len(rule), *(fmt(r) for r in body), rule,
             *summary_lines(timing), rule]
    return "\n".join(lines)
