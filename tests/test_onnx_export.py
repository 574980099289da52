"""The ONNX back end's graphs: every zoo spec exports, passes the full
checker, and ONNX's own shape inference agrees with cnndsl's shapes; plus the
exporter's contract (names, folding, no Identity, opsets, weights, errors).
Numerical parity with PyTorch is in test_onnx_parity.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import cnndsl
from cnndsl.backends.onnx import build_file, build_model, export
from cnndsl.backends.onnx.emitters import EMITTERS
from cnndsl.backends.onnx.params import WeightsError, expected_params, param_key
from conftest import ZOO  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TEST_SPECS = sorted(p.stem for p in (ROOT / "tests" / "specs").glob("onnx_*.cnn"))


def spec_path(name: str) -> Path:
    path = ROOT / ("tests/specs" if name.startswith("onnx_") else "specs") / f"{name}.cnn"
    if not path.exists():
        pytest.fail(f"zoo spec {path.relative_to(ROOT)} does not exist")
    return path


def dims(value_info) -> list:
    return [d.dim_value if d.HasField("dim_value") else d.dim_param
            for d in value_info.type.tensor_type.shape.dim]


def check_graph(net, model, path=None) -> None:
    """Full checker, then ONNX shape inference against cnndsl's node shapes.
    Given the saved file, the checker reads it in C++ (VGG's 550 MB would
    otherwise be serialised twice more); shape inference needs only the
    initializers' shapes, so it runs on the graph without their data."""
    onnx.checker.check_model(str(path) if path else model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(skeleton(model), strict_mode=True,
                                                 data_prop=True)
    # one graph output per spec output, named after it, the main one first
    assert [o.name for o in inferred.graph.output] == list(net.outputs)
    for value, shape in zip(inferred.graph.output, net.outputs.values()):
        assert dims(value) == ["batch", *shape], value.name
    assert dims(inferred.graph.input[0]) == ["batch", *net.input_shape]
    shapes = {n.name: n.shape for n in net.graph.nodes}
    checked = 0
    for value in inferred.graph.value_info:
        if value.name in shapes:
            batch, *shape = dims(value)
            # Resize (adaptive upsampling) names its batch dimension afresh
            assert isinstance(batch, str) and shape == list(shapes[value.name]), value.name
            checked += 1
    assert checked or len(model.graph.node) <= 1


def skeleton(model):
    """The model with each weight replaced by a graph input of its shape; small
    constants (Resize scales, Expand shapes) stay, shape inference reads them."""
    small = [t for t in model.graph.initializer if np.prod(t.dims) <= 16]
    weights = [onnx.helper.make_tensor_value_info(t.name, t.data_type, t.dims)
               for t in model.graph.initializer if np.prod(t.dims) > 16]
    graph = onnx.helper.make_graph(model.graph.node, model.graph.name,
                                   [*model.graph.input, *weights], model.graph.output, small)
    return onnx.helper.make_model(graph, opset_imports=model.opset_import,
                                  ir_version=model.ir_version)


@pytest.mark.parametrize("name", ZOO + TEST_SPECS)
def test_export_passes_checker_and_shape_inference(name, tmp_path):
    net = cnndsl.load(spec_path(name))
    model = export(net, tmp_path / f"{name}.onnx")
    check_graph(net, model, tmp_path / f"{name}.onnx")
    assert_clean(net, model)


@pytest.mark.parametrize("name", TEST_SPECS + ["resnet34"])
def test_unfolded_export_passes_checker(name, tmp_path):
    net = cnndsl.load(spec_path(name), input="3x64x64" if name == "resnet34" else None)
    model = build_model(net, fold_bn=False)
    check_graph(net, model)
    assert_clean(net, model)
    bns = sum(node.op == "bn" for node in net.graph.nodes)
    assert sum(n.op_type == "BatchNormalization" for n in model.graph.node) == bns


def assert_clean(net, model) -> None:
    """Node names come from the IR, no Identity or Dropout, one input and output."""
    names = {n.name for n in net.graph.nodes}
    for node in model.graph.node:
        assert node.name in names or node.name.split("/")[0] in names, node.name
        assert node.op_type not in ("Identity", "Dropout"), node.name
    assert [i.name for i in model.graph.input] == ["input"]
    assert model.opset_import[0].version == 17


def test_folding_removes_every_foldable_bn():
    net = cnndsl.load(spec_path("resnet34"), input="3x64x64")
    ops = [n.op_type for n in build_model(net).graph.node]
    assert "BatchNormalization" not in ops
    assert ops.count("Conv") == sum(n.op == "conv" for n in net.graph.nodes)
    # the folded conv takes over the batch norm's value name
    model = build_model(cnndsl.load(spec_path("onnx_layers")))
    convs = {n.name: n for n in model.graph.node if n.op_type in ("Conv", "Gemm")}
    assert list(convs["conv1"].output) == ["bn1"] and list(convs["fc1"].output) == ["bn3"]
    assert "bn1" in convs["conv1"].doc_string


def test_bn_that_cannot_fold_stays():
    # onnx_layers: conv2 feeds bn2 and two other branches; onnx_pools: bn after flatten
    # and after concat.  fc1 -> bn3 in onnx_layers folds.
    layers = build_model(cnndsl.load(spec_path("onnx_layers")))
    kept = [n.name for n in layers.graph.node if n.op_type == "BatchNormalization"]
    assert kept == ["bn2"]
    pools = build_model(cnndsl.load(spec_path("onnx_pools")))
    kept = [n.name for n in pools.graph.node if n.op_type == "BatchNormalization"]
    assert kept == ["bn1", "bn2"]


def test_pooling_attributes():
    model = build_model(cnndsl.load(spec_path("onnx_layers")))
    nodes = {n.name: {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
             for n in model.graph.node}
    assert nodes["conv1"]["pads"] == [0, 0, 1, 1]  # same padding at stride 2: bottom/right
    assert nodes["mixed1.avgpool1"]["count_include_pad"] == 0
    assert nodes["maxpool1"]["ceil_mode"] == 1
    # ceil mode counting padding (PyTorch's default): the overhang is not counted
    assert nodes["avgpool1"]["count_include_pad"] == 0 and "ceil_mode" not in nodes["avgpool1"]
    assert nodes["mixed1.conv3"]["group"] == 2 and nodes["mixed1.conv3"]["dilations"] == [2, 2]


def test_average_pooling_counting_padding_pads_first():
    net = cnndsl.loads("network t {\n input 3x8x8\n avgpool(3, stride=2, pad=1)\n"
                       " avgpool(3, stride=2, pad=1, ceil=true)\n}", path="t.cnn")
    nodes = {n.name: n for n in build_model(net).graph.node}
    plain = {a.name: onnx.helper.get_attribute_value(a) for a in nodes["avgpool1"].attribute}
    assert plain["count_include_pad"] == 1 and plain["pads"] == [1, 1, 1, 1]  # PyTorch's default
    assert nodes["avgpool2/pad"].op_type == "Pad"
    ceil = {a.name: onnx.helper.get_attribute_value(a) for a in nodes["avgpool2"].attribute}
    assert ceil["count_include_pad"] == 0 and "ceil_mode" not in ceil


def test_trailing_dropout_renames_instead_of_identity():
    net = cnndsl.loads("network t {\n input 3x8x8\n conv(4, 3); dropout\n}")
    model = build_model(net)
    assert [(n.op_type, list(n.output)) for n in model.graph.node] == [("Conv", ["output"])]
    check_graph(net, model)


def test_missing_emitter_names_op_and_span(monkeypatch):
    monkeypatch.delitem(EMITTERS, "lrn")
    net = cnndsl.load(spec_path("onnx_layers"))
    with pytest.raises(cnndsl.SpecError) as err:
        build_model(net)
    assert "'lrn'" in err.value.message and "lrn1" in err.value.message
    line = spec_path("onnx_layers").read_text().splitlines().index("  lrn(5)") + 1
    assert err.value.span.line == line and err.value.span.path.endswith("onnx_layers.cnn")


def test_adaptive_max_pool_with_uneven_windows_is_an_error():
    net = cnndsl.loads("network t {\n input 3x5x5\n adaptive_maxpool(3)\n}", path="t.cnn")
    with pytest.raises(cnndsl.SpecError, match="5x5 map adaptively to 3x3") as err:
        build_model(net)
    assert str(err.value).startswith("t.cnn:3:2: error:")


@pytest.mark.parametrize("size, out", [((5, 5), (3, 3)), ((14, 14), (4, 4)), ((7, 9), (4, 2))])
def test_adaptive_average_with_uneven_windows_is_two_matmuls(size, out, tmp_path):
    """torchvision's GoogLeNet heads pool 14x14 to 4x4 (windows 0-4, 3-7, 7-11, 10-14)."""
    torch = pytest.importorskip("torch")
    runtime = pytest.importorskip("cnndsl.backends.onnx.runtime")
    pytest.importorskip("onnxruntime")
    shape = f"3x{size[0]}x{size[1]}"
    net = cnndsl.loads(f"network t {{\n input {shape}\n adaptive_avgpool({out[0]}x{out[1]})\n}}",
                       path="t.cnn")
    model = export(net, tmp_path / "t.onnx")
    onnx.checker.check_model(model, full_check=True)
    assert [n.op_type for n in model.graph.node] == ["MatMul", "MatMul"]
    x = np.random.default_rng(0).standard_normal((2, 3, *size)).astype(np.float32)
    got = runtime.session(tmp_path / "t.onnx", device="cpu").run(["output"], {"input": x})[0]
    want = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(x), out).numpy()
    assert got.shape == want.shape and np.abs(got - want).max() < 1e-6


@pytest.mark.parametrize("opset", [13, 18, onnx.defs.onnx_opset_version()])
def test_opsets(opset):
    model = build_model(cnndsl.load(spec_path("onnx_layers")), opset=opset)
    assert model.opset_import[0].version == opset
    onnx.checker.check_model(model, full_check=True)


@pytest.mark.parametrize("opset", [12, 999, "17", 17.0])
def test_bad_opset(opset):
    with pytest.raises(cnndsl.SpecError, match="opset"):
        build_model(cnndsl.load(spec_path("onnx_layers")), opset=opset)


def test_fresh_weights_are_deterministic_and_pytorch_like():
    net = cnndsl.load(spec_path("onnx_layers"))
    first, second = build_model(net, fold_bn=False), build_model(net, fold_bn=False)
    assert first.SerializeToString() == second.SerializeToString()
    tensors = {t.name: numpy_helper.to_array(t) for t in first.graph.initializer}
    w = tensors["conv2.weight"]  # fan_in 32*3*3: U(-1/sqrt(288), 1/sqrt(288))
    assert w.shape == (16, 32, 3, 3) and 0.9 < np.abs(w).max() * 288 ** 0.5 <= 1.0
    assert np.all(tensors["bn2.running_var"] == 1) and np.all(tensors["bn2.running_mean"] == 0)


# -- weights: state dicts and checkpoints ------------------------------------------

def random_state_dict(net, seed=0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {param_key(n, suffix): rng.uniform(0.5, 1.5, shape).astype(np.float32)
            for n in net.graph.nodes for suffix, shape in expected_params(n).items()}


def initializers(model) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def test_state_dict_values_are_exported_unfolded():
    net = cnndsl.load(spec_path("onnx_layers"))
    state = random_state_dict(net)
    tensors = initializers(build_model(net, state_dict=state, fold_bn=False))
    for key, value in state.items():
        np.testing.assert_array_equal(tensors[key], value)


def test_checkpoint_and_bare_state_dict(tmp_path):
    torch = pytest.importorskip("torch")
    net = cnndsl.load(spec_path("onnx_layers"))
    state = {k: torch.from_numpy(v) for k, v in random_state_dict(net).items()}
    state["bn1.num_batches_tracked"] = torch.tensor(7)
    checkpoint = {"model": state, "spec": net.source, "spec_sha256": "0" * 64,
                  "config": {"epochs": 1}, "cnndsl_version": "0.1.0", "epoch": 1}
    torch.save(checkpoint, tmp_path / "ckpt.pt")
    torch.save(state, tmp_path / "bare.pt")
    for weights in ("ckpt.pt", "bare.pt"):
        out = tmp_path / f"{weights}.onnx"
        build_file(net, out, {"weights": str(tmp_path / weights), "opset": None,
                              "fold_bn": False})
        tensors = initializers(onnx.load(str(out)))
        np.testing.assert_array_equal(tensors["fc2.weight"], state["fc2.weight"].numpy())


def test_weights_errors(tmp_path):
    torch = pytest.importorskip("torch")
    net = cnndsl.load(spec_path("onnx_layers"))
    options = {"opset": None, "fold_bn": True}
    with pytest.raises(WeightsError, match="does not exist"):
        build_file(net, tmp_path / "m.onnx", {**options, "weights": str(tmp_path / "nope.pt")})
    (tmp_path / "corrupt.pt").write_bytes(b"\x80\x02 not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read"):
        build_file(net, tmp_path / "m.onnx", {**options, "weights": str(tmp_path / "corrupt.pt")})
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(WeightsError, match="neither a cnndsl checkpoint nor a state dict"):
        build_file(net, tmp_path / "m.onnx", {**options, "weights": str(tmp_path / "list.pt")})
    state = random_state_dict(net)
    del state["conv1.bias"]
    state["conv2.weight"] = state["conv2.weight"][:, :8]
    state["head.weight"] = np.zeros(3)
    with pytest.raises(WeightsError) as err:
        build_model(net, state_dict=state)
    assert isinstance(err.value, cnndsl.SpecError)
    assert "missing conv1.bias" in err.value.message and "unexpected head.weight" in err.value.message
    assert "conv2.weight: 16x8x3x3 in the weights, 16x32x3x3 in the spec" in err.value.message
    assert not (tmp_path / "m.onnx").exists()


def test_every_op_has_an_emitter():
    from cnndsl.ops import OPS
    assert sorted(set(OPS) - set(EMITTERS)) == []
