"""The state one export builds up: ONNX nodes, initializers and the name of
the ONNX value that holds each IR node's result."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from onnx import NodeProto, TensorProto, helper, numpy_helper

from cnndsl.ir.graph import MAIN_OUTPUT, Graph, Node
from cnndsl.backends.onnx.params import ParamSource

INPUT_NAME = "input"
OUTPUT_NAME = MAIN_OUTPUT  # "output"


@dataclass
class Emission:
    """What the emitters write into.  ``values[i]`` names the ONNX value of IR
    node ``i``; an op that emits nothing (dropout, a folded batch norm) points
    its entry at its input's value instead of adding an Identity node."""

    graph: Graph
    params: ParamSource
    opset: int
    fold: dict[int, int]  # conv/fc node id -> id of the batch norm folded into it
    nodes: list[NodeProto] = field(default_factory=list)
    initializers: list[TensorProto] = field(default_factory=list)
    values: dict[int, str] = field(default_factory=dict)
    _constants: dict[tuple, str] = field(default_factory=dict)

    def value_name(self, node: Node) -> str:
        """The name a node's result gets: its hierarchical name, or the name of the
        output it is (`output`, or the spec's: `logits`, `aux1`)."""
        return self.output_names.get(node.id, node.name)

    @functools.cached_property
    def output_names(self) -> dict[int, str]:
        """Graph output name by IR node, the main one first: OUTPUT_NAME unless the spec
        names it, then each head's name."""
        return {node: name for name, node in self.graph.outputs}

    def input(self, node: Node, k: int = 0) -> str:
        return self.values[node.inputs[k]]

    def alias(self, node: Node, source_id: int) -> None:
        """Emit nothing: the node's value is the value of `source_id`."""
        self.values[node.id] = self.values[source_id]

    def op(self, op_type: str, inputs: list[str], node: Node, suffix: str = "",
           output: str | None = None, **attrs) -> str:
        """Add one ONNX node.  Without `suffix` it computes `node`'s value and is
        named after it; helper nodes get `{name}/{suffix}` names and values."""
        name = node.name + (f"/{suffix}" if suffix else "")
        if output is None:
            output = name if suffix else self.value_name(node)
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=name, **attrs))
        if not suffix:
            self.values[node.id] = output
        return output

    def tensor(self, name: str, array: np.ndarray) -> str:
        """Add an initializer (float32 unless it is integral) and return its name."""
        if array.dtype.kind == "f":
            array = array.astype(np.float32, copy=False)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def constant(self, values, dtype=np.float32) -> str:
        """A shared constant initializer (Clip bounds, Expand shapes)."""
        key = (np.dtype(dtype).str, tuple(np.ravel(values).tolist()), np.shape(values))
        if key not in self._constants:
            name = f"const{len(self._constants)}"
            self._constants[key] = self.tensor(name, np.asarray(values, dtype=dtype))
        return self._constants[key]
