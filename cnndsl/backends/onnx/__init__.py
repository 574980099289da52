"""The ONNX back end: an ONNX ModelProto built straight from the IR with
onnx.helper (no tracing through torch).

The graph has one input, ``input`` (``batch x C x H x W`` with a symbolic
batch dimension), and one output per spec output: ``output`` (or the name the
spec gives its main output), then each head's (``aux1``, ``aux2``), all
computed, as the torch module's all_outputs=True does; each ONNX node is named after
the IR node it computes (``layer2.basic1.conv1``), and each initializer after
the parameter it holds (``layer2.basic1.conv1.weight``), as in the PyTorch
module's state dict.  Batch norm is folded into the preceding conv or fc layer
by default (cnndsl.ir.inference); dropout, the identity at inference, emits no node.

    net.to_onnx("resnet34.onnx")                       # fresh weights
    net.to_onnx("resnet34.onnx", state_dict=module.state_dict(), fold_bn=False)

See docs/onnx.md.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import onnx
from onnx import TensorProto, external_data_helper, helper

from cnndsl.backends.onnx.context import INPUT_NAME, Emission
from cnndsl.backends.onnx.emitters import EMITTERS
from cnndsl.ir.inference import plan_folds
from cnndsl.backends.onnx.params import ParamSource, WeightsError
from cnndsl.state_dicts import read_state_dict
from cnndsl.errors import SpecError
from cnndsl.escape import utf8_text
from cnndsl.files import Outputs

DEFAULT_OPSET = 17
MIN_OPSET = 13  # Softmax over one axis, Clip with tensor bounds, Resize with scales
BATCH_DIM = "batch"
# protobuf cannot serialise a message over 2 GiB; bigger weights go to a side file
EXTERNAL_DATA_BYTES = 1_800_000_000

__all__ = ["DEFAULT_OPSET", "WeightsError", "build_file", "build_model", "export"]


def build_model(network, state_dict=None, fold_bn: bool = True,
                opset: int | None = None, by_order: bool = False) -> onnx.ModelProto:
    """The ONNX model of `network` (a cnndsl.Network), not yet saved; `state_dict`'s
    tensors pair by name, or with by_order=True by declaration order."""
    opset = _check_opset(opset)
    graph = network.graph
    ctx = Emission(graph, ParamSource(graph, state_dict, by_order), opset,
                   plan_folds(graph) if fold_bn else {})
    for node in graph.nodes:
        emit = EMITTERS.get(node.op)
        if emit is None:
            raise SpecError(f"the ONNX back end cannot export op '{node.op}' (node {node.name})",
                            node.span, hint="export to another target, or add an ONNX "
                                            "emitter for it in cnndsl/backends/onnx/emitters.py")
        emit(ctx, node)
    for node, name in ctx.output_names.items():
        _name_output(ctx, node, name)
    inputs = [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT,
                                            [BATCH_DIM, *graph.input.shape])]
    outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT,
                                             [BATCH_DIM, *graph.nodes[node].shape])
               for node, name in ctx.output_names.items()]
    onnx_graph = helper.make_graph(ctx.nodes, graph.name, inputs, outputs, ctx.initializers,
                                   doc_string=utf8_text(f"{graph.name} compiled by cnndsl from "
                                                        f"{graph.path}"))
    imports = [helper.make_opsetid("", opset)]
    model = helper.make_model(onnx_graph, opset_imports=imports, producer_name="cnndsl",
                              producer_version=_version(),
                              ir_version=helper.find_min_ir_version_for(imports))
    helper.set_model_props(model, {
        "cnndsl.network": graph.name,
        "cnndsl.spec": utf8_text(graph.path),
        "cnndsl.spec_sha256": hashlib.sha256(network.source.encode()).hexdigest(),
        "cnndsl.input": "x".join(map(str, graph.input.shape)),
        "cnndsl.params": utf8_text(",".join(f"{k}={v}" for k, v in graph.params)),
        "cnndsl.fold_bn": str(bool(fold_bn)).lower(),
    })
    return model


def export(network, path, state_dict=None, fold_bn: bool = True,
           opset: int | None = None, outputs: Outputs | None = None,
           finish=None, by_order: bool = False) -> onnx.ModelProto:
    """Write `network` to `path` as ONNX and return the model.

    Args:
        network: a cnndsl.Network (``cnndsl.load(...)``).
        path: the .onnx file to write (atomically, never over the spec or a
            library it imports: cnndsl.files).
        state_dict: the compiled torch module's ``state_dict()`` (or any mapping
            of the same names to arrays); None exports freshly initialised weights.
        fold_bn: fold batch norm into the preceding conv/fc layer where possible.
        opset: the ONNX opset (default 17).
        outputs: the cnndsl.files.Outputs of the command writing it.
        finish: called with the model before it is saved (build_file's
            preprocessing metadata and nodes).
        by_order: pair `state_dict`'s tensors by declaration order, not by name
            (weights named another way: torchvision's for an unlabelled spec).
    """
    model = build_model(network, state_dict, fold_bn, opset, by_order)
    if finish is not None:
        finish(model)
    path = Path(path)
    outputs = outputs or Outputs.for_network(network)
    if sum(t.ByteSize() for t in model.graph.initializer) <= EXTERNAL_DATA_BYTES:
        outputs.write(path, lambda temp: onnx.save_model(model, str(temp)))
        return model
    # protobuf cannot hold 2 GiB: the weights go to PATH.data, which the graph names
    data = path.with_name(path.name + ".data")
    external_data_helper.convert_model_to_external_data(model, all_tensors_to_one_file=True,
                                                        location=data.name, size_threshold=0)

    def write_data(temp: Path) -> None:
        with tempfile.TemporaryDirectory(dir=temp.parent, prefix=".onnx-data.") as folder:
            external_data_helper.write_external_data_tensors(model, folder)
            os.replace(Path(folder) / data.name, temp)

    outputs.write_all([(data, write_data, False, lambda found: _names_data(path, found)),
                       (path, lambda temp: onnx.save_model(model, str(temp)), True, None)])
    return model


def _names_data(model_path: Path, data: Path) -> bool:
    """Whether the ONNX file at `model_path`, written by cnndsl, keeps its weights
    in `data` (so a new export may replace it)."""
    try:
        model = onnx.load(str(model_path), load_external_data=False)
    except Exception:  # not an ONNX file (or none): the .data is someone else's
        return False
    locations = {entry.value for tensor in model.graph.initializer
                 for entry in tensor.external_data if entry.key == "location"}
    return model.producer_name == "cnndsl" and data.name in locations


def build_file(network, output, options: dict) -> Path:
    """`cnndsl build --target onnx`: options holds `weights` (a checkpoint path
    or None), `opset` (None for the default), `fold_bn`, `with_preprocessing`
    and `outputs` (the command's cnndsl.files.Outputs).  A checkpoint's
    preprocessing goes into metadata_props (preprocessing.py)."""
    from cnndsl.backends.onnx import preprocessing
    weights = options.get("weights")
    state_dict = read_state_dict(weights) if weights else None
    prep = preprocessing.from_weights(network, weights)
    if options.get("with_preprocessing") and prep is None:
        preprocessing.bake(None, None, weights)  # the error: nothing to bake

    def finish(model) -> None:
        if options.get("with_preprocessing"):
            preprocessing.bake(model, prep, weights)
        preprocessing.record(model, prep, weights)
    export(network, output, state_dict=state_dict, fold_bn=options.get("fold_bn", True),
           opset=options.get("opset"),
           outputs=options.get("outputs") or Outputs.for_network(network, weights=weights),
           finish=finish, by_order=bool(options.get("by_order")))
    return Path(output)


def _check_opset(opset: int | None) -> int:
    newest = onnx.defs.onnx_opset_version()
    if opset is None:
        return DEFAULT_OPSET
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise SpecError(f"ONNX opset must be a whole number from {MIN_OPSET} to {newest} "
                        f"(the newest this onnx package knows), got {opset!r}",
                        hint=f"leave it out for opset {DEFAULT_OPSET}")
    return opset


def _name_output(ctx: Emission, node_id: int, output: str) -> None:
    """Make IR node `node_id`'s result the value named `output`.  Emitters name it so
    already, unless the last layer emitted nothing (a trailing dropout): then the
    value it passed through is renamed, and only where that value is the input or
    another output (a network that computes nothing at all) an Identity node copies it."""
    current = ctx.values[node_id]
    if current == output:
        return
    if current == INPUT_NAME or current in ctx.output_names.values():
        name = ctx.graph.nodes[node_id].name
        ctx.nodes.append(helper.make_node("Identity", [current], [output],
                                          name=name if current == INPUT_NAME else name + "/output"))
        return
    for node in ctx.nodes:
        for names in (node.input, node.output):
            for i, name in enumerate(names):
                if name == current:
                    names[i] = output
    for k, value in ctx.values.items():  # later outputs may alias the renamed value
        if value == current:
            ctx.values[k] = output


def _version() -> str:
    from cnndsl import __version__
    return __version__
