"""Named outputs: side branches (auxiliary classifiers) tapped off the main path,
and the name of the main output.

    inception(192, 96, 208, 16, 48, 64)          # 4a
    output aux1 { avgpool(5, stride=3); ... }    # a head from 4a's result
    inception(160, 112, 224, 24, 64, 64)         # 4b reads 4a's result too
    ...
    fc(classes)
    output logits                                # optional: names the main output

The rules checked here, each a `file:line:col` error: a head is written in the
network (not inside a block: it taps the network's main path), has layers of its
own, and has a name no other output has; a bare `output NAME` is the network's
last line (anything after it is never reached).
"""

from __future__ import annotations

from cnndsl.errors import Span, SpecError
from cnndsl.ir.graph import (DEFAULT_HEAD_WEIGHT, HEAD_BLOCK, MAIN_OUTPUT, Head, ScopeFrame,
                             format_shape)
from cnndsl.syntax import ast


def check_head_place(out: ast.Output, scope: tuple[ScopeFrame, ...]) -> None:
    """A head taps the network's main path: refused inside a block or another head."""
    if out.body is None:
        raise SpecError(f"`output {out.name}` without a body names the main output, so it "
                        f"must be the network's last line", out.span,
                        f"to branch off here, give it a head: `output {out.name} "
                        f"{{ avgpool(global); flatten; fc(classes) }}`")
    if not scope:
        return
    inner = scope[-1]
    where = (f"inside output head {inner.name!r}" if inner.block == HEAD_BLOCK
             else f"inside block {inner.block!r}")
    raise SpecError(f"output head {out.name!r} is {where}; heads branch off the network's "
                    f"main path", out.span,
                    "write `output NAME { ... }` in the network, after the layer it branches "
                    "off (call the block there, and the head after it)")


def check_new_name(name: str, span: Span, heads: list[Head], main: str = MAIN_OUTPUT) -> None:
    """Two outputs with one name cannot both be returned (nor trained) by name."""
    for head in heads:
        if head.name == name:
            raise SpecError(f"two outputs are named {name!r}", span,
                            "give every output its own name (aux1, aux2, ...)",
                            notes=((head.span, f"{name!r} is first declared here"),))
    if name == main:
        raise SpecError(f"output {name!r} has the name of the main output", span,
                        f"the network's own result is {main!r}; name the head otherwise")


def head_weight(out: ast.Output, evaluate) -> float:
    """The weight of a head's loss in training: `weight=` (a number >= 0), else
    DEFAULT_HEAD_WEIGHT."""
    if out.weight is None:
        return DEFAULT_HEAD_WEIGHT
    value = evaluate(out.weight)
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0 <= value < float("inf"):
        raise SpecError(f"the weight of output {out.name!r} must be a number >= 0, got "
                        f"{value!r}", out.weight.span,
                        "GoogLeNet weights each auxiliary loss 0.3, Inception-v3 0.4; 0 trains "
                        "the head without letting it shape the network")
    return float(value)


def head_frame(out: ast.Output, weight: float, name: str) -> ScopeFrame:
    """The scope frame of a head's layers: `aux1.conv1` (or its label's `AuxLogits.conv0`),
    one class in generated code, one cluster in diagrams (its argument: the loss weight)."""
    return ScopeFrame(block=HEAD_BLOCK, name=name, args=(("weight", weight),),
                      span=out.span)


def check_head_result(out: ast.Output, result: int, tap: int) -> None:
    if result == tap:
        raise SpecError(f"output head {out.name!r} has no layers of its own", out.span,
                        "a head computes something from the tensor it branches off, e.g. "
                        "`avgpool(global); flatten; fc(classes)`")


def note_head(exc: SpecError, out: ast.Output, shape: tuple[int, ...]) -> None:
    """Say, on an error inside a head, which tensor the head reads (a wrong rank: the
    head taps a flattened vector, or a feature map where it expects features)."""
    what = (f"a flat vector of {shape[0]} features" if len(shape) == 1
            else f"a {format_shape(shape)} feature map")
    note = (out.span, f"in output head {out.name!r}, which branches off {what} here")
    exc.diagnostics = [d.with_note(*note) for d in exc.diagnostics]


def main_output_name(statements: list[ast.Statement]) -> tuple[list[ast.Statement], str]:
    """The network's statements without a final `output NAME`, and the main output's
    name.  A bare `output` ends the network: any line after it is never reached."""
    for k, st in enumerate(statements):
        out = st.action
        if isinstance(out, ast.Output) and out.body is None:
            if k + 1 < len(statements):
                raise _after_end(statements[k + 1], out)
            if st.bind:
                raise SpecError(f"`-> {st.bind}` names a tensor, and `output` ends the "
                                f"network", st.span)
            if out.weight is not None:
                raise SpecError("the main output's loss has weight 1; weights are the heads'",
                                out.weight.span, "give the heads' weights relative to it")
            return statements[:k], out.name
    return statements, MAIN_OUTPUT


def _after_end(st: ast.Statement, end: ast.Output) -> SpecError:
    later = st.action
    what = (f"output {later.name!r}" if isinstance(later, ast.Output)
            else "this line")
    return SpecError(f"{what} is never reached: `output {end.name}` ends the network before it",
                     st.span, f"move `output {end.name}` to the network's last line; a head "
                     f"goes where it branches off",
                     notes=((end.span, f"the main output {end.name!r} is declared here"),))
