"""Labels (`layer1: ...`, `features: sequential { ... }`): the names they give reach
the check table and JSON, diagrams, the PyTorch module's state_dict keys and the
ONNX graph; names stay unique by construction."""

import json
import re
from pathlib import Path

import pytest

import cnndsl
from cnndsl.backends.graph.collapse import build_view, cluster_id
from cnndsl.cli import main
from cnndsl.syntax.format import format_text

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "tests" / "specs" / "labels.cnn"
GOLDEN = ROOT / "tests" / "golden" / "check_labels.txt"


def names(text: str) -> list[str]:
    return [n.name for n in cnndsl.loads(text).graph.layers()]


def test_check_table_shows_labels(capsys, monkeypatch, update_golden):
    monkeypatch.chdir(ROOT)
    assert main(["check", SPEC.relative_to(ROOT).as_posix()]) == 0
    out = capsys.readouterr().out
    if update_golden:
        GOLDEN.write_text(out)
    assert out == GOLDEN.read_text()


def test_json_report_names_are_labels(capsys):
    assert main(["check", str(SPEC), "--format", "json"]) == 0
    text = capsys.readouterr().out
    for name in ("features.0", "layer1.1.conv2", "layer2.0.downsample.1", "head.fc"):
        assert f'"{name}"' in text
    json.loads(text)


def test_labelled_layers_calls_groups_and_numbering():
    assert names("""
block b(c) { conv1: conv(c, 3, pad=1); bn; relu }
network n {
  input 3x8x8
  stem: { conv(4, 3, pad=1); conv(4, 3, pad=1) }
  features: sequential { conv(4, 1); relu; b(4); maxpool(2) }
  blocks: sequential repeat 2 { b(4) }
  last: b(4)
  flatten; fc(2)
}""") == ["stem.conv1", "stem.conv2", "features.0", "features.1", "features.2.conv1",
          "features.2.bn1", "features.2.relu1", "features.3", "blocks.0.conv1", "blocks.0.bn1",
          "blocks.0.relu1", "blocks.1.conv1", "blocks.1.bn1", "blocks.1.relu1", "last.conv1",
          "last.bn1", "last.relu1", "flatten1", "fc1"]


def test_merges_and_flatten_take_no_number():
    """nn.Sequential holds no add or flatten: they must not shift the numbers after them."""
    assert names("""
network n {
  input 3x8x8
  body: sequential {
    conv(4, 1); add { path { conv(4, 1) }; identity }; relu; flatten; fc(2)
  }
}""") == ["body.0", "body.1", "body.add1", "body.2", "body.flatten1", "body.3"]


def test_numbered_labels_count_on_as_a_c_enum():
    """`2: layernorm` numbers a child of a sequential group; the next unlabelled child
    takes the number after it (torchvision's CNBlock: block.0 conv, block.1 a Permute
    with no layer of ours, block.2 the norm, ... block.5)."""
    assert names("""
network n {
  input 3x8x8
  block: sequential { conv(4, 1); 2: layernorm; conv(4, 1); gelu; 5: conv(4, 1) }
  head: sequential { flatten; 2: fc(2) }
}""") == [
        "block.0", "block.2", "block.3", "block.4", "block.5", "head.flatten1", "head.2"]
    # a numbered call or group, itself numbered from where it stands
    assert names("""
block down(c) { layernorm; conv(c, 2, stride=2) }
network n {
  input 3x8x8
  features: sequential { conv(4, 1); 3: sequential down(4); sequential { relu } }
}""") == ["features.0", "features.3.0", "features.3.1", "features.4.0"]


@pytest.mark.parametrize("body, message", [
    ("f: sequential { conv(4, 1); conv(4, 1); 1: relu }", "label `1:` gives number 1"),
    ("f: sequential { 3: conv(4, 1); 2: relu; conv(4, 1) }",
     "this unlabelled child counts on to number 3"),
    ("f: { 2: relu }", "and 'f' is not one"),
    ("2: relu", "and the network is not one"),
    ("f: sequential repeat 2 { conv(4, 1); 5: relu }", "numbers every repetition"),
])
def test_numbered_labels_refused(body, message):
    with pytest.raises(cnndsl.SpecError, match=re.escape(message)):
        names(f"network n {{\n  input 3x8x8\n  {body}\n}}")


def test_automatic_names_avoid_labels_declared_later():
    assert names("""
network n {
  input 3x8x8
  conv(4, 1)
  conv1: conv(4, 1)
}""") == ["conv2", "conv1"]


def test_unlabelled_specs_keep_their_names():
    assert names("""
block basic(c) { conv(c, 3, pad=1); bn }
network n { input 3x8x8; basic(4); basic(4); relu }""") == [
        "basic1.conv1", "basic1.bn1", "basic2.conv1", "basic2.bn1", "relu1"]


def test_block_names_that_would_collide_stay_apart():
    """`conv1` and `conv1_` both used to name their first call `conv1_1`, merging the two
    calls into one scope and one generated class."""
    net = cnndsl.loads("""
block conv1(c) { conv(c, 1) }
block conv1_(c) { conv(c, 3, pad=1) }
network n { input 3x8x8; conv1(4); conv1_(4) }""")
    frames = {n.scope[0].name for n in net.graph.layers()}
    assert frames == {"conv1_1", "conv1_2"}
    torch = pytest.importorskip("torch")
    module = net.to_torch()
    assert set(module.state_dict()) == {"conv1_1.conv1.weight", "conv1_1.conv1.bias",
                                        "conv1_2.conv1.weight", "conv1_2.conv1.bias"}
    assert module(torch.randn(1, 3, 8, 8)).shape == (1, 4, 8, 8)


def test_cluster_ids_are_unique_for_distinct_names():
    assert cluster_id("w1.x_y1") != cluster_id("w1_x_y1")
    assert cluster_id("a._b") != cluster_id("a_.b")


def test_diagram_clusters_carry_labels():
    view = build_view(cnndsl.load(SPEC).graph)
    names_ = {f.name for box in view.boxes for f in box.clusters}
    assert {"features", "layer1", "layer1.0", "layer2.0.downsample", "head"} <= names_


def test_state_dict_keys_are_labelled_paths():
    torch = pytest.importorskip("torch")
    net = cnndsl.load(SPEC)
    module = net.to_torch()
    keys = list(module.state_dict())
    assert keys[:2] == ["features.0.weight", "features.0.bias"]
    assert "layer2.0.downsample.0.weight" in keys and "head.fc.weight" in keys
    assert not any(k.startswith("layer1.0.downsample") for k in keys)  # identity there
    assert module(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_onnx_node_names_are_labels(tmp_path):
    pytest.importorskip("onnx")
    import onnx
    out = tmp_path / "labels.onnx"
    assert main(["build", str(SPEC), "--target", "onnx", "-o", str(out)]) == 0
    node_names = {n.name for n in onnx.load(str(out)).graph.node}
    assert {"features.0", "layer2.0.downsample.0", "head.fc"} <= node_names


def test_format_keeps_labels():
    text = ("network n {\n input 3x8x8\n stem : {conv1:conv(4,3)\n bn}\n"
            " features:sequential{conv(4, 1); 2 :relu;3:sequential{conv(4,1)}}\n fc(2)\n}\n")
    formatted = format_text(text)
    assert formatted == ("network n {\n  input 3x8x8\n  stem: { conv1: conv(4, 3)\n"
                         "          bn }\n  features: sequential { conv(4, 1); 2: relu; "
                         "3: sequential { conv(4, 1) } }\n  fc(2)\n}\n")
    assert format_text(formatted) == formatted


def test_freeze_layer1_freezes_exactly_the_parameters_under_it():
    pytest.importorskip("torch")
    from cnndsl.train.transfer import freeze
    module = cnndsl.load(SPEC).to_torch()
    frozen = freeze(module, ["layer1"])
    assert frozen and all(name.startswith("layer1.") for name in frozen)
    for name, parameter in module.named_parameters():
        assert parameter.requires_grad == (not name.startswith("layer1.")), name
    assert any(n.startswith("layer1.1.bn2") for n in frozen)  # its batch norms too


def test_freeze_takes_a_layer_scale_by_its_name():
    """A layer scale is a parameter of its block, and a layer of its own for --freeze:
    `layer_scale` freezes the 18 of ConvNeXt-T, and nothing else."""
    pytest.importorskip("torch")
    from cnndsl.train.transfer import freeze
    module = cnndsl.load(ROOT / "specs" / "convnext_tiny.cnn", input="3x32x32").to_torch()
    frozen = freeze(module, ["layer_scale"])
    assert len(frozen) == 18 and "features.5.4.layer_scale" in frozen
    assert [n for n, p in module.named_parameters() if not p.requires_grad] == frozen
    assert freeze(module, ["features.1.0"]) == [  # a block: its layers and its own scale
        "features.1.0.layer_scale", *(f"features.1.0.block.{k}" for k in (0, 2, 3, 5))]


def test_load_weights_pairs_by_name_and_says_so():
    torch = pytest.importorskip("torch")
    from cnndsl.backends.torch import load_weights
    from cnndsl.backends.torch.weights import WeightMismatchError
    net = cnndsl.load(SPEC)
    source, target = net.to_torch(), net.to_torch()
    state = source.state_dict()
    # same names in another order: by name, every tensor lands where its name says
    shuffled = dict(reversed(list(state.items())))
    report = load_weights(target, shuffled)
    assert report.ok and report.pairing == "name" and len(report.loaded) == len(state)
    assert str(report).startswith(f"{len(state)} tensors pair up by name")
    assert all(torch.equal(target.state_dict()[k], v) for k, v in state.items())
    # two same-shaped layers' names swapped: by name they go where the names say
    swapped = dict(state)
    a, b = "layer1.0.conv1.weight", "layer1.1.conv1.weight"
    swapped[a], swapped[b] = state[b], state[a]
    load_weights(target, swapped)
    assert torch.equal(target.state_dict()[a], state[b])
    # other names: an error by default, whose hint says declaration order would fit
    renamed = {f"old.{i}.{k.rsplit('.', 1)[-1]}": v for i, (k, v) in enumerate(state.items())}
    with pytest.raises(WeightMismatchError, match="declaration order pairs all"):
        load_weights(net.to_torch(), renamed)
    report = load_weights(target, renamed, by_order=True)
    assert report.ok and report.pairing == "declaration order"
    assert str(report).startswith(f"{len(state)} tensors pair up by declaration order")


HEADED = """
network n {
  input 3x8x8
  conv(4, 3, pad=1)
  AuxLogits: output aux(weight=0.4) { avgpool(global); flatten; fc: fc(2) }
  head: sequential output aux2 { avgpool(global); flatten; fc(2) }
  flatten; fc(2)
}"""


def test_a_label_names_an_output_heads_layers_not_its_output():
    """`AuxLogits: output aux { ... }` (Inception-v3's head as torchvision names it): the
    layers are AuxLogits.*, the output keeps its own name in the report and the module."""
    net = cnndsl.loads(HEADED)
    assert [n.name for n in net.graph.layers()] == [
        "conv1", "AuxLogits.avgpool1", "AuxLogits.flatten1", "AuxLogits.fc", "head.0",
        "head.flatten1", "head.1", "flatten1", "fc1"]
    outputs = {o["name"]: o for o in net.report()["outputs"]}
    assert set(outputs) == {"output", "aux", "aux2"}
    assert outputs["aux"]["params"] == 4 * 2 + 2 and outputs["aux"]["loss_weight"] == 0.4
    torch = pytest.importorskip("torch")
    module = net.to_torch()
    assert "AuxLogits.fc.weight" in module.state_dict() and "head.1.weight" in module.state_dict()
    out = module.train()(torch.randn(2, 3, 8, 8))
    assert list(out._fields) == ["output", "aux", "aux2"]


def test_a_head_label_used_twice_is_refused_at_the_second():
    with pytest.raises(cnndsl.SpecError) as info:
        cnndsl.loads(HEADED.replace("head: sequential", "AuxLogits:"))
    assert "label 'AuxLogits' is used twice" in str(info.value)


def test_a_layer_scale_is_a_parameter_named_as_its_layer():
    """A layer scale is no submodule (nn.Sequential could not hold it): in a sequential
    group it takes no number unless numbered, and its state_dict key is its name, with
    no `.weight` (torchvision's `features.1.0.layer_scale`)."""
    torch = pytest.importorskip("torch")
    assert names("network n {\n  input 4x4x4\n  f: sequential { conv(4, 1); layer_scale(0.5)"
                 "; conv(4, 1) }\n}") == ["f.0", "f.layer_scale1", "f.1"]
    net = cnndsl.loads("network n {\n  input 4x4x4\n  f: sequential { conv(4, 1); "
                       "3: layer_scale(0.5); conv(4, 1) }\n}")
    module = net.to_torch().eval()
    assert list(module.state_dict()) == ["f.3", "f.0.weight", "f.0.bias", "f.4.weight",
                                         "f.4.bias"]
    assert module.get_parameter("f.3").shape == (4, 1, 1)
    f = module.f
    x = torch.randn(2, 4, 4, 4)
    with torch.no_grad():
        torch.nn.init.uniform_(module.get_parameter("f.3"), 0.5, 1.5)
        expected = getattr(f, "4")(getattr(f, "0")(x) * module.get_parameter("f.3"))
        assert torch.allclose(module(x), expected)
