"""`cnndsl check`: --depth collapse with subtotals, --batch, the size estimate
(beside torchinfo's convention), and the JSON report, validated against
docs/report.schema.json for every spec of the zoo."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cnndsl.cli import main
from cnndsl.network import load
from tests.conftest import ZOO
from tests.json_schema import errors

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())
GOLDEN = ROOT / "tests" / "golden" / "check_resnet50_depth1.txt"


def check(capsys, *args) -> tuple[int, str, str]:
    code = main(["check", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", ZOO)
def test_zoo_reports_match_the_schema(name):
    net = load(ROOT / "specs" / f"{name}.cnn")
    for report in (net.report(), net.report(batch=4, depth=2)):
        assert errors(json.loads(json.dumps(report)), SCHEMA) == []


def test_validator_rejects_what_it_should():
    report = load(ROOT / "specs" / "lenet5.cnn").report()
    broken = json.loads(json.dumps(report))
    del broken["summary"]["size"]["torchinfo_total_bytes"]
    broken["layers"][0]["params"] = -1
    broken["layers"][1]["extra"] = 1
    broken["outputs"] = []
    found = errors(broken, SCHEMA)
    assert any("torchinfo_total_bytes" in e for e in found)
    assert any("layers[0].params" in e for e in found)
    assert any("unexpected 'extra'" in e for e in found)
    assert any("outputs: fewer than 1" in e for e in found)


def test_depth1_resnet50_golden(capsys, update_golden):
    code, out, _ = check(capsys, "specs/resnet50.cnn", "--depth", "1")
    assert code == 0
    if update_golden:
        GOLDEN.write_text(out)
    assert out == GOLDEN.read_text()


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_collapsed_rows_add_up(depth):
    net = load(ROOT / "specs" / "resnet50.cnn")
    report = net.report(depth=depth)
    rows = report["rows"]
    for key in ("params", "macs", "buffers", "other_ops", "activation_bytes"):
        assert sum(r[key] for r in rows) == sum(layer[key] for layer in report["layers"])
    assert sum(r["layers"] for r in rows) == len(report["layers"])
    assert all(len(r["name"].split(".")) <= depth for r in rows)
    assert rows[-1]["output"] == report["output"]


def test_depth1_names_the_stages():
    rows = load(ROOT / "specs" / "resnet50.cnn").report(depth=1)["rows"]
    stage1 = next(r for r in rows if r["name"] == "layer1")  # its label, torchvision's name
    assert stage1["block"] == "bottleneck_stage" and stage1["params"] == 215_808
    assert [r["name"] for r in rows][-3:] == ["avgpool1", "flatten1", "fc"]


def test_size_estimate_and_torchinfo_convention(capsys):
    """resnet50's figures at batch 1 are torchinfo 1.8.0's (measured, docs/analysis.md):
    input 0.60 MB, forward/backward pass 177.83 MB, params 102.23 MB, total 280.66 MB."""
    size = load(ROOT / "specs" / "resnet50.cnn").report()["summary"]["size"]
    assert size["input_bytes"] == 602_112
    assert round(size["torchinfo_forward_backward_bytes"] / 1e6, 2) == 177.83
    assert round(size["param_bytes"] / 1e6, 2) == 102.23
    assert round(size["torchinfo_total_bytes"] / 1e6, 2) == 280.66
    assert size["estimated_total_bytes"] == (size["input_bytes"] + size["activation_bytes"]
                                             + size["param_bytes"] + size["buffer_bytes"])
    code, out, _ = check(capsys, "specs/resnet50.cnn")
    assert "280.66 MB" in out and "253.29 MB" in out and "177.83 MB" in out


def test_batch_scales_sizes_and_macs(capsys):
    one = load(ROOT / "specs" / "resnet50.cnn").report()["summary"]
    eight = load(ROOT / "specs" / "resnet50.cnn").report(batch=8)["summary"]
    assert eight["macs_batch"] == 8 * one["macs"] and eight["total_params"] == one["total_params"]
    for key in ("input_bytes", "activation_bytes", "torchinfo_forward_backward_bytes"):
        assert eight["size"][key] == 8 * one["size"][key]
    assert eight["size"]["param_bytes"] == one["size"]["param_bytes"]
    code, out, _ = check(capsys, "specs/resnet50.cnn", "--batch", "8", "--depth", "1")
    assert code == 0 and "batch 8" in out and "for batch 8: 32,713,474,048" in out


def test_json_carries_the_table_figures(capsys):
    code, out, _ = check(capsys, "specs/googlenet.cnn", "--connections", "--format", "json")
    assert code == 0
    report = json.loads(out)
    by_name = {layer["name"]: layer for layer in report["layers"]}
    concat = next(layer for layer in report["layers"] if layer["op"] == "concat")
    assert len(concat["inputs"]) == 4 and all(i in by_name for i in concat["inputs"])
    assert report["summary"]["buffers"] == sum(layer["buffers"] for layer in report["layers"])
    assert report["summary"]["fvcore_macs"] == sum(layer["fvcore_macs"]
                                                   for layer in report["layers"])
    assert report["outputs"] == [{"name": "output", "shape": report["output"],
                                  "params": report["total_params"],
                                  "macs": report["total_macs"], "loss_weight": 1.0}]


def test_warnings_in_json(capsys):
    spec = ROOT / "tests" / "errors" / "warning_call_chain.cnn"
    code, out, err = check(capsys, spec, "--format", "json")
    assert code == 0 and "warning:" in err
    warnings = json.loads(out)["warnings"]
    assert warnings and all(w["path"].endswith("warning_call_chain.cnn") and w["line"] >= 1
                            for w in warnings)
    assert warnings[0]["message"] in err


@pytest.mark.parametrize("args, message", [
    (["--depth", "0"], "--depth must be at least 1"),
    (["--batch", "0"], "--batch must be at least 1"),
    (["--connections", "--format", "markdown"], "--connections adds a column"),
])
def test_errors(capsys, args, message):
    code, _, err = check(capsys, "specs/lenet5.cnn", *args)
    assert code == 1 and message in err


def test_check_stays_torch_free():
    code = ("import sys; from cnndsl.cli import main; "
            "main(['check', 'specs/resnet50.cnn', '--depth', '1', '--batch', '2', '-q']); "
            "main(['check', 'specs/resnet50.cnn', '--format', 'json', '--depth', '2']); "
            "assert 'torch' not in sys.modules and 'onnx' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
