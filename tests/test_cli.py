"""`cnndsl check` end to end: formats, exit codes, overrides, the JSON contract."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cnndsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
RESNET34 = str(ROOT / "specs" / "resnet34.cnn")
CONTRACT_TOP = {"network", "input", "output", "total_params", "trainable_params", "total_macs",
                "layers"}
CONTRACT_LAYER = {"name", "op", "output", "params", "macs", "receptive_field"}


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_report_keeps_the_contract(capsys):
    # DESIGN.md's keys, unchanged; issue 16 added more beside them (docs/report.schema.json)
    code, out, err = run_cli(capsys, "check", RESNET34, "--format", "json")
    assert code == 0 and err == ""
    report = json.loads(out)
    assert list(report)[:len(CONTRACT_TOP)] == ["network", "input", "output", "total_params",
                                                "trainable_params", "total_macs", "layers"]
    assert report["network"] == "resnet34"
    assert report["input"] == [3, 224, 224] and report["output"] == [1000]
    assert report["total_params"] == 21_797_672 == report["trainable_params"]
    assert report["total_macs"] == sum(layer["macs"] for layer in report["layers"])
    assert report["total_params"] == sum(layer["params"] for layer in report["layers"])
    for layer in report["layers"]:
        assert list(layer)[:len(CONTRACT_LAYER)] == ["name", "op", "output", "params", "macs",
                                                     "receptive_field"]
        assert all(isinstance(d, int) for d in layer["output"] + layer["receptive_field"])
    first = {k: v for k, v in report["layers"][0].items() if k in CONTRACT_LAYER - {"name"}}
    assert first == {"op": "conv", "output": [64, 112, 112], "params": 9408,
                     "macs": 118_013_952, "receptive_field": [7, 7]}
    assert sum(layer["op"] == "add" for layer in report["layers"]) == 16


def test_table_has_every_layer_and_the_totals(capsys):
    code, out, _ = run_cli(capsys, "check", RESNET34, "--format", "json")
    names = [layer["name"] for layer in json.loads(out)["layers"]]
    code, out, _ = run_cli(capsys, "check", RESNET34)
    assert code == 0
    assert all(name in out for name in names) and "conv 7x7/2, 64" in out
    assert "Total params: 21,797,672" in out
    assert "fvcore-comparable count (MACs + eval norms + adaptive pooling): 3,671,262,720" in out


def test_markdown_table(capsys):
    code, out, _ = run_cli(capsys, "check", RESNET34, "--format", "markdown")
    assert code == 0
    assert out.startswith("### resnet34")
    assert " | conv 7x7/2, 64 | 64x112x112 | 9,408 | 118.01M | 7 | 2 |" in out


def test_input_and_parameter_overrides(capsys):
    code, out, _ = run_cli(capsys, "check", RESNET34, "--input", "3x32x32", "--set", "classes=10",
                           "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["input"] == [3, 32, 32] and report["output"] == [10]
    assert report["layers"][0]["output"] == [64, 16, 16]


@pytest.mark.parametrize("argv,message", [
    (["--input", "3x224"], "input size must look like 3x224x224"),
    (["--input", "banana"], "input size must look like 3x224x224"),
    (["--set", "classes"], "--set expects NAME=VALUE"),
    (["--set", "depth=3"], "unknown parameter of network 'resnet34' 'depth'"),
])
def test_bad_options_are_clear_errors(capsys, argv, message):
    code, out, err = run_cli(capsys, "check", RESNET34, *argv)
    assert code == 1 and out == ""
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("path,message", [
    ("no/such/file.cnn", "no such spec file: no/such/file.cnn"),
    (".", "is a directory"),
])
def test_unreadable_specs(capsys, path, message):
    code, _, err = run_cli(capsys, "check", path)
    assert code == 1 and message in err


def test_binary_file_is_a_clear_error(capsys, tmp_path):
    bad = tmp_path / "bad.cnn"
    bad.write_bytes(b"\xff\xfe\x00network")
    code, _, err = run_cli(capsys, "check", str(bad))
    assert code == 1 and "is not UTF-8 text" in err


def test_check_imports_neither_torch_nor_onnx():
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "cnndsl", "check",
                             RESNET34, "-q"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "lark" in imported  # the probe sees real imports
    heavy = {m for m in imported if m.split(".")[0] in {"torch", "onnx", "onnxruntime",
                                                          "torchvision", "numpy", "jinja2"}}
    assert not heavy


def test_python_m_and_console_script_agree():
    a = subprocess.run([sys.executable, "-m", "cnndsl", "check", RESNET34, "--format", "json"],
                       capture_output=True, text=True, cwd=ROOT)
    assert a.returncode == 0 and json.loads(a.stdout)["total_params"] == 21_797_672


@pytest.mark.parametrize("fmt", ["markdown"])  # JSON layers always carry "inputs"
def test_connections_only_with_the_table(capsys, fmt):
    code, out, err = run_cli(capsys, "check", RESNET34, "--connections", "--format", fmt)
    assert code == 1 and out == "" and "--format table" in err


@pytest.mark.parametrize("text, value", [("leaky", "leaky"), ('"leaky"', "leaky"),
                                          ("'leaky'", "leaky"), ("10", 10), ("0.5", 0.5),
                                          ("True", True), ("false", False)])
def test_set_values(text, value):
    from cnndsl.commands._spec import parse_overrides
    assert parse_overrides([f"x={text}"]) == {"x": value}


def test_empty_input_override_is_an_error(capsys):
    code, _, err = run_cli(capsys, "check", RESNET34, "--input", "")
    assert code == 1 and "input size must look like 3x224x224" in err


def test_channels_last_input_override_is_a_warning(capsys):
    code, _, err = run_cli(capsys, "check", RESNET34, "-q", "--input", "224x224x3")
    assert code == 0 and err.startswith("warning: the input 224x224x3 has 224 channels")
    assert "did you mean 3x224x224?" in err
