"""The Python API: `cnndsl.load(path)` returns a checked Network."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from cnndsl.analysis import Analysis, analyse
from cnndsl.elaborate.elaborator import elaborate, knobs
from cnndsl.elaborate.program import load_program, read_spec, spec_name
from cnndsl.errors import Diagnostic, Span, SpecError
from cnndsl.ir.graph import Graph, Shape


class Network:
    """A spec after elaboration and static checks."""

    def __init__(self, graph: Graph, warnings: list[Diagnostic], source: str,
                 files: tuple[str, ...] = (), rebuild=None):
        self.graph = graph
        self.warnings = warnings
        self.source = source  # the spec's text, kept for checkpoints and generated headers
        self.files = files  # resolved paths of the spec and the libraries it imports
        # {param: value} -> the Graph with those network parameters changed (None: not
        # rebuildable); generated code asks which layers a parameter reaches
        self.rebuild = rebuild

    @property
    def name(self) -> str:
        return self.graph.name

    @property
    def path(self) -> str:
        return self.graph.path

    @property
    def input_shape(self) -> Shape:
        return self.graph.input.shape

    @property
    def output_shape(self) -> Shape:
        return self.graph.output_node.shape

    @property
    def outputs(self) -> dict[str, Shape]:
        """Every output's shape by name, the main output first."""
        return {name: self.graph.nodes[node].shape for name, node in self.graph.outputs}

    @functools.cached_property
    def analysis(self) -> Analysis:
        return analyse(self.graph)

    def report(self, batch: int = 1, depth: int | None = None) -> dict:
        """The JSON report (the stable machine interface) as a dict; `batch` scales
        its sizes, `depth` adds the rows of `check --depth` (docs/report.schema.json)."""
        from cnndsl.report.json_report import build_report
        return build_report(self.analysis, self.warnings, batch, depth)

    def to_torch(self, all_outputs: bool = False, inference: bool = False, weights=None,
                 channels_last: bool | None = None, by_order: bool = False):
        """A torch.nn.Module computing this network (see cnndsl.backends.torch).  With
        output heads it returns every output in training, the main one in eval mode,
        and every output always with all_outputs=True.  `weights`: a state dict or
        weights file to load (load_weights: paired by name, or with by_order=True by
        declaration order).

        inference=True: the inference build (batch norm folded, dropout and
        drop_path removed, activations in place, output heads left out;
        cnndsl.backends.torch.inference), in eval mode, holding `weights` (for the
        ordinary module; None: its fresh initialisation), folded."""
        if inference:
            from cnndsl.backends.torch.inference import build_inference_module
            return build_inference_module(self, weights, channels_last, by_order)
        from cnndsl.backends.torch import build_module, load_weights
        module = build_module(self, all_outputs)
        if weights is not None:
            from cnndsl.state_dicts import read_state_dict
            load_weights(module, weights if isinstance(weights, dict) else read_state_dict(weights),
                         by_order=by_order)
        return module

    def to_onnx(self, path, state_dict=None, fold_bn: bool = True, opset: int | None = None,
                by_order: bool = False):
        """Write an ONNX graph of this network to `path` (see cnndsl.backends.onnx)."""
        from cnndsl.backends.onnx import export
        return export(self, path, state_dict=state_dict, fold_bn=fold_bn, opset=opset,
                      by_order=by_order)

    def _repr_html_(self) -> str:
        """Jupyter shows a Network as its check table (cnndsl.report.html)."""
        from cnndsl.report.html import render_html
        return render_html(self.analysis)

    def __repr__(self) -> str:
        return (f"<Network {self.name} {self.path} input={self.input_shape} "
                f"output={self.output_shape} layers={len(self.graph.nodes) - 1}>")


def parse_input(text: str | Shape | None) -> Shape | None:
    """'3x224x224' (or a tuple) -> (3, 224, 224)."""
    if text is None or isinstance(text, tuple):
        return text
    if isinstance(text, (list,)):
        return tuple(text)
    if not re.fullmatch(r"\d+(x\d+)*", text.strip()) or len(text.split("x")) not in (1, 3):
        raise SpecError(f"input size must look like 3x224x224 (or a feature count), got {text!r}")
    shape = tuple(int(d) for d in text.strip().split("x"))
    if min(shape) < 1:
        raise SpecError(f"input size {text} has a dimension below 1")
    return shape


def loads(text: str, path: str = "<string>", input: str | Shape | None = None,
          params: dict[str, object] | None = None) -> Network:
    """Check a spec given as text.  Raises SpecError (str() is path:line:col: ...)."""
    shape = parse_input(input)
    try:
        program = load_program(text, path)
        graph, warnings = elaborate(program, shape, params)
    except RecursionError:
        raise SpecError(f"{path} nests too deeply to check", Span(path, 1, 1)) from None
    given = dict(params or {})
    rebuild = lambda changed: elaborate(program, shape, {**given, **changed})[0]  # noqa: E731
    return Network(graph, warnings, text, tuple(program.files), rebuild)


def load(path: str | Path, input: str | Shape | None = None,
         params: dict[str, object] | None = None) -> Network:
    """Load, elaborate and check the spec at `path` ("-": standard input); `input`
    overrides its input size."""
    return loads(read_spec(path), spec_name(path), input=input, params=params)


def parameters(path: str | Path) -> dict:
    """The knobs of the spec at `path`: {"network", "path", "params": [{"name",
    "default", "choices", "follows"}]}: choices is None when the spec does not list
    the values; follows names the earlier parameters the default is computed from."""
    program = load_program(read_spec(path), spec_name(path))
    name, found = knobs(program)
    return {"network": name, "path": spec_name(path),
            "params": [{"name": k.name, "default": k.default,
                        "choices": None if k.choices is None else list(k.choices),
                        "follows": list(k.follows)}
                       for k in found]}
