"""Networks with several outputs (`output NAME { ... }`): IR, check report, errors."""

import json
from pathlib import Path

import pytest

import cnndsl
from cnndsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "tests" / "specs" / "aux_small.cnn"


def test_head_taps_the_main_path_and_the_main_path_goes_on():
    graph = cnndsl.load(SMALL).graph
    [head] = graph.heads
    tap = graph.nodes[head.tap]
    assert (head.name, tap.name, tap.shape) == ("aux1", "maxpool1", (8, 8, 8))
    after = next(n for n in graph.nodes if n.name == "conv2")  # main path reads the tap
    assert after.inputs == (head.tap,)
    assert graph.outputs == [("output", graph.output), ("aux1", head.node)]
    names = [n.name for n in graph.nodes if graph.head_of(n) == "aux1"]
    assert names == ["aux1.conv1", "aux1.relu1", "aux1.avgpool1", "aux1.flatten1",
                     "aux1.dropout1", "aux1.fc1"]


def test_main_output_can_be_named_and_heads_switched_off():
    text = """network n(aux = true) {
  input 3x8x8
  conv(4, 3)
  if aux { output side { flatten; fc(2) } }
  flatten; fc(3)
  output logits
}"""
    graph = cnndsl.loads(text).graph
    assert [name for name, _ in graph.outputs] == ["logits", "side"]
    off = cnndsl.loads(text, params={"aux": False}).graph
    assert off.outputs == [("logits", off.output)] and off.heads == ()


def test_check_lists_every_output_with_its_own_cost(capsys):
    assert main(["check", str(SMALL), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    outputs = report["outputs"]
    assert [(o["name"], o["shape"]) for o in outputs] == [("output", [10]), ("aux1", [10])]
    assert outputs[1]["params"] == 8 * 8 + 8 + 8 * 10 + 10  # conv 1x1 and fc, with biases
    assert sum(o["params"] for o in outputs) == report["total_params"]
    assert sum(o["macs"] for o in outputs) == report["total_macs"]
    assert main(["check", str(SMALL)]) == 0
    table = capsys.readouterr().out
    assert "-> output 10 (heads: aux1 10)" in table
    assert main(["check", str(SMALL), "--format", "markdown"]) == 0
    assert "\n  - aux1    10  params 162" in capsys.readouterr().out
    assert "  aux1    10  params 162  MACs" in table and "[head, loss weight 0.3]" in table
    assert [o["loss_weight"] for o in outputs] == [1.0, 0.3]  # the default: GoogLeNet's


def test_single_output_reports_are_unchanged(capsys):
    assert main(["check", str(ROOT / "specs" / "lenet5.cnn")]) == 0
    assert "Outputs (" not in capsys.readouterr().out
    report = cnndsl.load(ROOT / "specs" / "lenet5.cnn").report()
    assert report["outputs"] == [{"name": "output", "shape": [10],
                                  "params": report["total_params"],
                                  "macs": report["total_macs"], "loss_weight": 1.0}]


@pytest.mark.parametrize("body, message", [
    ("output aux {}", "has no layers of its own"),
    ("output aux { flatten; fc(2) } -> x", "an output head passes its input on"),
    ("repeat 2 { output aux { flatten; fc(2) } }", "two outputs are named 'aux'"),
    ("output aux { flatten; fc(2); output inner { fc(2) } }", "inside output head 'aux'"),
    ("flatten; output logits; fc(2)", "this line is never reached"),
    ("add { identity; output x }", "must be the network's last line"),
])
def test_output_mistakes_are_errors_at_their_line(body, message):
    text = f"network n {{\n  input 3x8x8\n  conv(4, 3)\n  {body}\n  flatten; fc(3)\n}}"
    with pytest.raises(cnndsl.SpecError) as info:
        cnndsl.loads(text, path="n.cnn")
    assert message in info.value.message
    assert str(info.value.span).startswith("n.cnn:4:")


def test_a_head_cannot_take_the_main_outputs_name():
    text = "network n {\n  input 3x8x8\n  output logits { flatten; fc(2) }\n  flatten; fc(3)\n" \
           "  output logits\n}"
    with pytest.raises(cnndsl.SpecError, match="has the name of the main output") as info:
        cnndsl.loads(text, path="n.cnn")
    assert str(info.value.span) == "n.cnn:3:10"


def test_head_weights_come_from_the_spec():
    weights = {name: [o.weight for o in cnndsl.load(ROOT / "specs" / f"{name}.cnn")
                      .analysis.by_output()]
               for name in ("googlenet_aux", "googlenet2014", "inception_v3_aux")}
    assert weights == {"googlenet_aux": [1.0, 0.3, 0.3], "googlenet2014": [1.0, 0.3, 0.3],
                       "inception_v3_aux": [1.0, 0.4]}


@pytest.mark.parametrize("head, message", [
    ("output aux(weight=-1) { flatten; fc(2) }", "must be a number >= 0"),
    ("output aux(0.3) { flatten; fc(2) }", "takes one argument, weight=W"),
    ("output aux(weight=true) { flatten; fc(2) }", "must be a number >= 0"),
])
def test_bad_head_weights_are_errors(head, message):
    text = f"network n {{\n  input 3x8x8\n  {head}\n  flatten; fc(3)\n}}"
    with pytest.raises(cnndsl.SpecError, match=message) as info:
        cnndsl.loads(text, path="n.cnn")
    assert str(info.value.span).startswith("n.cnn:3:")


def test_diagrams_show_the_side_branches():
    from cnndsl.backends.graph import build_view, to_dot, to_mermaid
    graph = cnndsl.load(ROOT / "specs" / "googlenet_aux.cnn").graph
    view = build_view(graph, depth=1)
    assert "output 1000, head aux1 1000, head aux2 1000" in view.title
    heads = {box.name: box for box in view.boxes if box.name in ("aux1", "aux2")}
    assert set(heads) == {"aux1", "aux2"}
    for name, tapped in (("aux1", "inception4a"), ("aux2", "inception4d")):
        assert heads[name].title == "output head, loss weight 0.3"
        assert heads[name].shape == (1000,)  # the head's result, not its first layer's
        source = next(b for b in view.boxes if b.name == tapped)  # 4a, 4d
        assert any(a.source == source.id and a.target == heads[name].id for a in view.arrows)
    assert "output head, loss weight 0.3" in to_dot(view) and "aux2" in to_mermaid(view)
    full = build_view(graph)  # every layer: each head is a cluster of its own layers
    assert {"aux1", "aux2"} <= set(full.clusters)
    assert "aux1: output head, loss weight 0.3" in to_dot(full)


def test_fmt_lays_out_output_heads_like_calls_and_bodies():
    from cnndsl.syntax.format import format_text
    messy = ("network t(classes = 10) {\n  input 3x32x32\n  conv(8, 3, pad=1)\n"
             "  output aux1 ( weight = 0.3 ){avgpool(global);flatten;fc(classes)}\n"
             "  flatten; fc(classes)\n  output   logits\n}\n")
    tidy = ("network t(classes = 10) {\n  input 3x32x32\n  conv(8, 3, pad=1)\n"
            "  output aux1(weight=0.3) { avgpool(global); flatten; fc(classes) }\n"
            "  flatten; fc(classes)\n  output logits\n}\n")
    assert format_text(messy, "t.cnn") == tidy
    assert format_text(tidy, "t.cnn") == tidy
