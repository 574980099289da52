"""`cnndsl time`: per-layer forward/backward times on the module cnndsl builds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import cnndsl
from cnndsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
LENET = ROOT / "specs" / "lenet5.cnn"

QUICK = ["--batch", "4", "--iterations", "3", "--warmup", "1", "--threads", "1"]


def _time_json(capsys, *extra) -> dict:
    assert main(["time", str(LENET), "--format", "json", *QUICK, *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_lenet5_json_lists_every_layer_with_times_that_add_up(capsys):
    report = _time_json(capsys)
    net = cnndsl.load(LENET)
    assert [row["name"] for row in report["layers"]] == [n.name for n in net.graph.layers()]
    assert report["input"] == [4, 1, 28, 28]
    for row in report["layers"]:
        assert row["forward_ms"] > 0, row
        # every lenet layer lies on the gradient path (the first conv has weights)
        assert row["backward_ms"] > 0, row
        assert math.isclose(row["total_ms"], row["forward_ms"] + row["backward_ms"])
    total = report["layers_total"]
    for key in ("forward_ms", "backward_ms"):
        assert math.isclose(total[key], sum(row[key] for row in report["layers"]))
    assert math.isclose(total["total_ms"], total["forward_ms"] + total["backward_ms"])
    assert math.isclose(sum(row["share"] for row in report["layers"]), 1.0)
    whole = report["whole_model"]
    assert whole["forward_ms"] > 0 and whole["backward_ms"] > 0
    assert math.isclose(report["difference"], total["total_ms"] / whole["total_ms"] - 1)


def test_forward_only_has_no_backward(capsys):
    report = _time_json(capsys, "--forward-only")
    assert report["forward_only"] is True
    assert all(row["backward_ms"] == 0 and row["forward_ms"] > 0 for row in report["layers"])
    assert report["whole_model"]["backward_ms"] == 0


def test_table_has_share_and_whole_model_lines(capsys):
    assert main(["time", str(LENET), *QUICK, "--channels-last"]) == 0
    out = capsys.readouterr().out
    assert "Share" in out and "Whole model (plain loop" in out and "Sum of layers" in out


@pytest.mark.parametrize("spec", ["graph_residual", "onnx_modern"])  # with a layer scale
def test_stepwise_run_computes_what_the_module_computes(spec):
    import torch
    from cnndsl.profile.steps import build_steps, run_steps
    net = cnndsl.load(Path(__file__).resolve().parent / "specs" / f"{spec}.cnn")
    module = net.to_torch().eval()
    x = torch.randn(2, *net.input_shape)
    with torch.no_grad():
        assert torch.equal(run_steps(build_steps(net.graph, module), x), module(x))


def test_cuda_without_a_device_is_a_plain_error(capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert main(["time", str(LENET), "--device", "cuda", *QUICK]) == 1
    err = capsys.readouterr().err
    assert "CUDA" in err and "Traceback" not in err


def test_time_and_graph_commands_do_not_import_torch_until_run():
    import subprocess
    import sys
    code = ("import sys, argparse, cnndsl.commands.time as t, cnndsl.commands.graph as g; "
            "[m.configure(argparse.ArgumentParser()) for m in (t, g)]; "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("device", ["gpu", "CPU", "cpu:1", "cuda:x", "mps"])
def test_unknown_device_is_a_plain_error(capsys, device):
    assert main(["time", str(LENET), "--device", device, *QUICK]) == 1
    err = capsys.readouterr().err
    assert f"unknown device {device!r}" in err and "internal error" not in err


def test_network_without_layers_is_a_plain_error(capsys, tmp_path):
    (tmp_path / "empty.cnn").write_text("network empty { input 3x8x8 }\n")
    assert main(["time", str(tmp_path / "empty.cnn"), *QUICK]) == 1
    assert "has no layers to time" in capsys.readouterr().err


def test_out_of_memory_suggests_a_smaller_batch(capsys, monkeypatch):
    """The allocator's own error (as PyTorch's CPU allocator words it), raised where a
    huge batch would raise it, becomes one line with the activation estimate."""
    from cnndsl.profile import timer

    def allocate(network, options, progress=None):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] . DefaultCPUAllocator: "
                           "can't allocate memory: you tried to allocate 31360000000 bytes.")
    monkeypatch.setattr(timer, "_time", allocate)
    assert main(["time", str(LENET), "--batch", "10000000", "--iterations", "1",
                 "--allow-large"]) == 1  # past the activation limit (docs/limits.md)
    err = capsys.readouterr().err
    assert "ran out of memory at batch 10000000" in err and "smaller --batch" in err
    assert "internal error" not in err
