"""Families as one spec: every variant of efficientnet.cnn, regnet.cnn, mobilenet_v2.cnn
and resnet_cifar.cnn comes from its paper's rule and one stage table, with the
parameter count of the reference (tests/data/families.json, torchvision's models,
which tests/test_families_torch.py rebuilds; He et al. 2016 for the CIFAR ResNets).
None of this imports torch."""

from __future__ import annotations

import functools
import json
import math
import re

import pytest

import cnndsl
from cnndsl.cli import main
from cnndsl.elaborate.parameters import program_environment
from cnndsl.elaborate.program import load_program

from conftest import ROOT, SPECS

FAMILIES = json.loads((ROOT / "tests" / "data" / "families.json").read_text())["variants"]


def _id(row) -> str:
    return row["spec"] + "-" + "-".join(f"{k}={v}" for k, v in row["set"].items())


@functools.lru_cache(maxsize=None)
def load(spec: str, **params) -> cnndsl.Network:
    return cnndsl.load(SPECS / f"{spec}.cnn", params=params or None)


@pytest.mark.parametrize("row", FAMILIES, ids=[_id(r) for r in FAMILIES])
def test_every_variant_has_torchvisions_parameter_count(row):
    net = load(row["spec"], **row["set"])
    assert net.analysis.total_params == row["params"]
    assert net.warnings == []


# ---- ResNets for CIFAR-10 (He et al. 2016, sec. 4.2 and table 6) ------------------

def cifar_resnet_params(depth: int, shortcut: str) -> int:
    """The count, layer by layer: 3x3 stem of 16, three stages of 2n 3x3 convs (16, 32,
    64 filters), batch norm after each, fc 64 -> 10; option B adds two 1x1 projections."""
    n = (depth - 2) // 6
    total = 3 * 16 * 9 + 2 * 16
    c_in = 16
    for c in (16, 32, 64):
        for i in range(2 * n):
            total += (c_in if i == 0 else c) * c * 9 + 2 * c
        if shortcut == "B" and c != c_in:
            total += c_in * c + 2 * c
        c_in = c
    return total + 64 * 10 + 10


# Table 6: parameters as the paper prints them (0.27M ... 19.4M)
CIFAR_TABLE6 = {20: 0.27e6, 32: 0.46e6, 44: 0.66e6, 56: 0.85e6, 110: 1.7e6, 1202: 19.4e6}


@pytest.mark.parametrize("shortcut", ["A", "B"])
@pytest.mark.parametrize("depth", sorted(CIFAR_TABLE6))
def test_resnet_cifar_depth_6n_plus_2(depth, shortcut):
    net = load("resnet_cifar", depth=depth, shortcut=shortcut)
    params = net.analysis.total_params
    assert params == cifar_resnet_params(depth, shortcut)
    layers = sum(n.op in ("conv", "fc") for n in net.graph.nodes)
    assert layers == depth + (2 if shortcut == "B" else 0)  # 6n + 2 weighted layers
    if shortcut == "A":  # option A adds no parameters: the paper's figures
        digits = 2 if depth < 100 else 1
        assert round(params / 1e6, digits) == CIFAR_TABLE6[depth] / 1e6
    assert net.output_shape == (10,) and net.warnings == []


def test_resnet56_option_a_is_853018():
    assert load("resnet_cifar", depth=56).analysis.total_params == 853_018
    assert load("resnet_cifar").analysis.total_params == 269_722  # ResNet-20: "0.27M"


def test_option_a_shortcut_is_parameter_free_zero_padding():
    net = load("resnet_cifar")
    pads = [n for n in net.graph.nodes if n.op == "pad_channels"]
    assert [(dict(n.attrs)["before"], dict(n.attrs)["after"], n.shape) for n in pads] == [
        (8, 8, (32, 16, 16)), (16, 16, (64, 8, 8))]
    stats = {s.node.id: s for s in net.analysis.nodes}
    assert all(stats[n.id].cost.params == 0 and stats[n.id].cost.macs == 0 for n in pads)


# ---- the rule, not a table per variant ---------------------------------------------

def constants(spec: str) -> dict:
    path = SPECS / f"{spec}.cnn"
    return program_environment(load_program(path.read_text(), str(path))).constants


def make_divisible(v, divisor=8):  # torchvision's _make_divisible, for the checks below
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def block_calls(net, block: str) -> list[dict]:
    """The arguments of every call of `block`, in order."""
    frames = {}
    for node in net.graph.nodes:
        for frame in node.scope:
            if frame.block == block:
                frames.setdefault(frame.name, dict(frame.args))
    return list(frames.values())


def mbconv_calls(net) -> list[tuple]:
    """(c, t, k, stride) of every mbconv block call, in order."""
    return [(a["c"], a["t"], a["k"], a["s"]) for a in block_calls(net, "mbconv")]


def efficientnet_rule(baseline, width, depth) -> list[tuple]:
    """Tan & Le 2019, sec. 3.3, as torchvision applies it, written out in Python."""
    calls = []
    for t, k, s, c, n in baseline:
        for i in range(math.ceil(n * depth)):
            calls.append((make_divisible(c * width), t, k, s if i == 0 else 1))
    return calls


@pytest.mark.parametrize("variant", [f"b{i}" for i in range(8)])
def test_efficientnet_variant_is_the_baseline_scaled(variant):
    table = constants("efficientnet")
    width, depth, size, *_ = table["VARIANTS"][variant]
    net = load("efficientnet", variant=variant)
    assert mbconv_calls(net) == efficientnet_rule(table["B0"], width, depth)
    assert net.input_shape == (3, size, size)


def _literals(spec: str) -> set[int]:
    code = re.sub(r"#[^\n]*", "", (SPECS / f"{spec}.cnn").read_text())
    return {int(m) for m in re.findall(r"(?<![\w.])\d+(?![\w.])", code)}


def test_efficientnet_holds_no_channel_table_per_variant():
    """No stage width that scaling derives for B1-B7 is written in the spec: the only
    stage table is B0's (with its 32-channel stem and 1280-channel head), the variants'
    rows hold coefficients and resolutions, and the rule makes the rest."""
    table = constants("efficientnet")
    baseline = {x for row in [*table["B0"], *table["VARIANTS"].values()] for x in row
                if isinstance(x, int)} | {32, 1280}
    derived = set()
    for variant in table["VARIANTS"]:
        calls = mbconv_calls(load("efficientnet", variant=variant))
        derived |= {c for c, *_ in calls} | {4 * calls[-1][0]}
    assert derived - baseline, "the variants must differ from the baseline"
    assert not (derived - baseline) & _literals("efficientnet")


def test_efficientnet_baseline_edit_reaches_every_variant():
    """Change one number of the B0 table and every variant follows the rule."""
    path = SPECS / "efficientnet.cnn"
    text = path.read_text()
    edited = text.replace("(6, 5, 2, 40, 2)", "(6, 5, 2, 48, 2)")
    assert edited != text
    table = constants("efficientnet")
    baseline = [row if row[3] != 40 else (6, 5, 2, 48, 2) for row in table["B0"]]
    for variant, (width, depth, *_) in table["VARIANTS"].items():
        net = cnndsl.loads(edited, path=str(path), params={"variant": variant})
        assert mbconv_calls(net) == efficientnet_rule(baseline, width, depth)


def regnet_stages(net) -> list[tuple]:
    """(width, blocks, group width) per stage, read from the regnet_block calls."""
    stages = []
    for a in block_calls(net, "regnet_block"):
        if a["stride"] == 2:
            stages.append([a["w"], 0, a["g"]])
        stages[-1][1] += 1
    return [tuple(s) for s in stages]


def test_regnet_holds_no_channel_table_per_variant():
    table = constants("regnet")
    inputs = {x for row in table["MODELS"].values() for x in row if isinstance(x, int)}
    inputs.add(32)  # the stem
    derived = set()
    for variant in table["MODELS"]:
        derived |= {w for w, _, _ in regnet_stages(load("regnet", variant=variant))}
    assert len(derived - inputs) > 40
    assert not (derived - inputs) & _literals("regnet")


def test_regnet_knobs_default_to_the_named_model_and_move_through_the_space():
    base = load("regnet", variant="y_800mf")
    assert load("regnet", variant="y_800mf", wa=38.84).analysis.total_params == \
        base.analysis.total_params
    wider = load("regnet", variant="y_800mf", wa=50)
    assert regnet_stages(wider) != regnet_stages(base)
    assert load("regnet", variant="x_800mf", se_ratio=0.25).analysis.total_params > \
        load("regnet", variant="x_800mf").analysis.total_params


def test_mobilenet_v2_width_multiplier_rounds_every_layer():
    for width in (0.35, 0.5, 0.75, 1.0, 1.3, 1.4):
        convs = [n for n in load("mobilenet_v2", width=width).graph.nodes if n.op == "conv"]
        assert convs[0].shape[0] == make_divisible(32 * width)
        assert convs[-1].shape[0] == make_divisible(1280 * max(1.0, width))
        assert all(n.shape[0] % 8 == 0 for n in convs)


def test_googlenet_defaults_reach_every_batch_norm_of_its_library_blocks():
    bns = [n for n in load("googlenet").graph.nodes if n.op == "bn"]
    assert len(bns) == 57 and {dict(n.attrs)["eps"] for n in bns} == {0.001}
    assert {dict(n.attrs)["eps"] for n in load("bn_inception").graph.nodes
            if n.op == "bn"} == {1e-5}


# ---- knobs on the command line -----------------------------------------------------

@pytest.mark.parametrize("spec, line", [
    ("efficientnet",
     'variant          = "b0"   one of "b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"'),
    ("resnet_cifar", 'depth    = 20    one of 20, 32, 44, 56, 110, 1202'),
    ("resnet_cifar", 'shortcut = "A"   one of "A", "B"'),
    ("mobilenet_v2", 'width   = 1.0    any value'),
    ("regnet", 'wa          = 27.89       any value (the default follows variant)'),
    ("regnet", 'variant     = "y_400mf"   one of "y_400mf", "y_800mf", "y_1_6gf"'),
])
def test_list_params_names_every_knob_and_its_values(spec, line, capsys):
    assert main(["check", str(SPECS / f"{spec}.cnn"), "--list-params"]) == 0
    out = capsys.readouterr().out
    assert line in out, out


def test_list_params_as_json(capsys):
    assert main(["check", str(SPECS / "efficientnet.cnn"), "--list-params",
                 "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["network"] == "efficientnet"
    assert found["params"][0] == {"name": "variant", "default": "b0",
                                  "choices": [f"b{i}" for i in range(8)], "follows": []}
    assert found["params"][1]["follows"] == ["variant"]  # width: VARIANTS[variant][0]


@pytest.mark.parametrize("spec, setting, message", [
    ("efficientnet", "variant=b9", 'variant = "b9" (given with --set) is not one of the values'),
    ("regnet", "variant=y_200mf", 'variant = "y_200mf" (given with --set) is not one of'),
    ("resnet_cifar", "depth=57", "depth = 57 (given with --set) is not one of the values"),
    ("resnet_cifar", "shortcut=C", 'shortcut = "C" (given with --set) is not one of'),
])
def test_set_outside_a_familys_list_is_an_error_at_its_parameter(spec, setting, message,
                                                                 capsys):
    path = SPECS / f"{spec}.cnn"
    assert main(["check", "-q", str(path), "--set", setting]) == 1
    err = capsys.readouterr().err
    name = setting.split("=")[0]
    lines = path.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if f"{name} in " in text)
    column = lines[line - 1].index(f"{name} in ") + 1
    assert err.startswith(f"{path}:{line}:{column}: error: {message}"), err
    assert "hint: choose one of" in err and "Traceback" not in err
