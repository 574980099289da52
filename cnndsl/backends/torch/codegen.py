"""Generate PyTorch source for a network: the block structure (structure.py)
rendered through the Jinja2 template templates/torch/module.py.j2."""

from __future__ import annotations

import functools
import textwrap
from dataclasses import dataclass
from pathlib import Path

from cnndsl.backends.torch import names
from cnndsl.backends.torch.structure import (Instance, Variant, build_tree, group_variants,
                                             resolve_params)
from cnndsl.ir.graph import format_shape

LINE_LENGTH = 99

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"  # inside a wheel
if not (TEMPLATES / "torch").is_dir():  # source checkout: templates/ beside the package
    TEMPLATES = Path(__file__).resolve().parents[3] / "templates"


@dataclass(frozen=True)
class Source:
    """Generated source and the name of the network class in it."""

    text: str
    class_name: str


@functools.lru_cache(maxsize=1)
def _environment():
    import jinja2
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                              undefined=jinja2.StrictUndefined, autoescape=False,
                              keep_trailing_newline=True, trim_blocks=True,
                              lstrip_blocks=True)


def generate(network, version: str) -> Source:
    """Python source for `network` (a cnndsl.Network) as a standalone module."""
    graph = network.graph
    root = build_tree(graph)
    variants = group_variants(root)
    taken = {v.class_name for v in variants if v.block is not None}
    root.variant.class_name = names.class_name(graph.name, taken)
    module_names = frozenset({v.class_name for v in variants} | {"INPUT_SHAPE"})
    for variant in variants:
        resolve_params(variant, module_names)
    classes = [_class_context(v, variants, graph) for v in variants]
    text = _environment().get_template("torch/module.py.j2").render(
        version=version, path=names.comment_text(graph.path),
        network=names.comment_text(graph.name), classes=classes,
        network_class=root.variant.class_name, input_shape=names.literal(graph.input.shape))
    return Source(text, root.variant.class_name)


def _class_context(variant: Variant, variants: list[Variant], graph) -> dict:
    first = variant.instances[0]
    init, forward_lines, arguments, result = [], *_forward(first)
    for item, exprs in zip(first.items, variant.exprs):
        if item.attr is None:
            continue
        callee = item.child.variant.class_name if item.child else item.callee
        args = [e if kw is None else f"{kw}={e}" for (kw, _), e in zip(item.args, exprs)]
        init += _call_lines(f"self.{item.attr} = ", callee, args, indent=8)
    return {"name": variant.class_name, "doc": _docstring(variant, variants, graph),
            "params": "".join(f", {p.name}" for p in variant.params), "init": init,
            "arguments": arguments, "forward": forward_lines, "result": result}


def _forward(inst: Instance) -> tuple[list[str], str, str]:
    """forward()'s lines, argument list and returned variable.  A value keeps its
    variable while it flows down a chain; branches get fresh names (out, out2, ...)."""
    var = {node: ("x" if k == 0 else f"x{k + 1}") for k, node in enumerate(inst.inputs)}
    last_use = {}
    for k, item in enumerate(inst.items):
        for i in item.inputs:
            last_use[i] = k
    fresh = iter(f"out{k if k > 1 else ''}" for k in range(1, 1_000_000))
    lines = []
    for k, item in enumerate(inst.items):
        args = [var[i] for i in item.inputs]
        reusable = [var[i] for i in item.inputs if last_use[i] == k and i != inst.output]
        target = reusable[0] if reusable else next(fresh)
        call = item.call.replace("{self}", f"self.{item.attr}") if item.attr else item.call
        lines.append(f"{target} = {call.format(*args)}")
        var[item.output] = target
    arguments = ", ".join(var[i] for i in inst.inputs)
    return lines, arguments, var[inst.output]


def _call_lines(prefix: str, callee: str, args: list[str], indent: int) -> list[str]:
    """`prefix callee(args)` laid out as black would: on one line if it fits, else the
    arguments on one indented line, else one argument per line."""
    line = f"{prefix}{callee}({', '.join(args)})"
    if indent + len(line) <= LINE_LENGTH:
        return [line]
    if indent + 4 + len(", ".join(args)) <= LINE_LENGTH:
        return [f"{prefix}{callee}(", "    " + ", ".join(args), ")"]
    return [f"{prefix}{callee}(", *(f"    {a}," for a in args), ")"]


def _docstring(variant: Variant, variants: list[Variant], graph) -> list[str]:
    paragraphs = _doc_paragraphs(variant, variants, graph)
    lines = []
    for k, text in enumerate(paragraphs):
        lines += [""] * (k > 0) + textwrap.wrap(text, LINE_LENGTH - 8 - 3 * (k == 0))
    return lines


def _doc_paragraphs(variant: Variant, variants: list[Variant], graph) -> list[str]:
    inst = variant.instances[0]
    if variant.block is None:
        shape = format_shape(graph.input.shape)
        return [f"The network ``{names.comment_text(graph.name)}``: input {shape}, "
                f"output {format_shape(graph.output_node.shape)}."]
    calls = len(variant.instances)
    args = ", ".join(f"{k}={v!r}" for k, v in inst.frame.args)
    lines = [f"Block ``{variant.block}`` ({calls} call{'s' * (calls != 1)}; the first is "
             f"``{variant.block}({names.comment_text(args)})``)."]
    siblings = [v for v in variants if v.block == variant.block]
    if len(siblings) > 1:
        lines += [f"Structure {variant.index} of {len(siblings)}: calls of "
                  f"``{variant.block}`` that build different layers get different classes."]
    return lines
