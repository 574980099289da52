"""`cnndsl build --target torch`, and `cnndsl check` staying free of torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cnndsl.cli import main
from conftest import ROOT, SPECS


def test_check_imports_no_torch():
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "cnndsl", "check",
                             str(SPECS / "resnet34.cnn")], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")]
    assert imported and not any(m.split(".")[0] in ("torch", "onnx", "jinja2") for m in imported)


def test_build_torch_writes_runnable_source(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    out = tmp_path / "model.py"
    spec = ROOT / "tests" / "specs" / "torch_residual.cnn"
    assert main(["build", str(spec), "--target", "torch", "-o", str(out), "--input", "3x8x8",
                 "--set", "classes=3"]) == 0
    namespace = {}
    exec(compile(out.read_text(), str(out), "exec"), namespace)
    module = namespace["TorchResidual"]()
    assert tuple(module(torch.randn(1, 3, 8, 8)).shape) == (1, 3)
    assert "wrote" in capsys.readouterr().err


def test_build_torch_with_weights(tmp_path):
    torch = pytest.importorskip("torch")
    import cnndsl
    spec = ROOT / "tests" / "specs" / "torch_inception.cnn"
    source = cnndsl.load(spec).to_torch()
    ckpt = tmp_path / "ckpt.pt"
    torch.save({"state_dict": {f"other.{k}": v for k, v in source.state_dict().items()}}, ckpt)
    out = tmp_path / "model.py"
    assert main(["build", str(spec), "--target", "torch", "-o", str(out),
                 "--weights", str(ckpt), "--by-order"]) == 0  # other names: by order
    saved = torch.load(tmp_path / "model.pt")
    assert all(torch.equal(saved[k], v) for k, v in source.state_dict().items())


def test_build_bad_weights_fail_cleanly(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    ckpt = tmp_path / "ckpt.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, ckpt)
    code = main(["build", str(ROOT / "tests" / "specs" / "torch_inception.cnn"), "--target",
                 "torch", "-o", str(tmp_path / "m.py"), "--weights", str(ckpt)])
    assert code == 1
    err = capsys.readouterr().err
    assert "fc.weight" in err and "missing (kept as initialised)" in err
