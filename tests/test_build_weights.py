"""`cnndsl build --weights`: every kind of weights file a user may hand over,
for both targets, is either loaded or refused with one clear line (exit 1),
never a traceback, and never at the cost of an existing file."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import cnndsl  # noqa: E402
from cnndsl.cli import main  # noqa: E402

from conftest import ROOT  # noqa: E402

SPEC = ROOT / "tests" / "specs" / "torch_residual.cnn"
TARGETS = {"torch": "model.py", "onnx": "model.onnx"}


def build(capsys, tmp_path, target, weights):
    out = tmp_path / TARGETS[target]
    code = main(["build", str(SPEC), "--target", target, "-o", str(out), "--weights", str(weights)])
    return code, capsys.readouterr().err, out


def bad_files(tmp_path, state):
    (tmp_path / "corrupt.pt").write_bytes(b"\x80\x02 not a torch file")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "numbers.pt")
    wrong = dict(state)
    wrong[next(iter(wrong))] = torch.zeros(2, 2)
    torch.save(wrong, tmp_path / "wrong_shape.pt")
    return {
        "missing": (tmp_path / "absent.pt", "does not exist"),
        "corrupt": (tmp_path / "corrupt.pt", "corrupt or not a torch file"),
        "list": (tmp_path / "list.pt", "neither a cnndsl checkpoint nor a state dict"),
        "no tensors": (tmp_path / "numbers.pt", "neither a cnndsl checkpoint nor a state dict"),
        "wrong shape": (tmp_path / "wrong_shape.pt", "2x2"),
    }


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("case", ["missing", "corrupt", "list", "no tensors", "wrong shape"])
def test_bad_weights_are_a_clear_error(capsys, tmp_path, target, case):
    state = cnndsl.load(SPEC).to_torch().state_dict()
    path, message = bad_files(tmp_path, state)[case]
    code, err, out = build(capsys, tmp_path, target, path)
    assert code == 1, err
    assert message in err.replace("[2, 2]", "2x2")
    assert "Traceback" not in err and "internal error" not in err
    assert not out.exists()


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("layout", ["bare", "cnndsl checkpoint", "wrapped", "DataParallel"])
def test_weights_load_from_every_common_layout(capsys, tmp_path, target, layout):
    net = cnndsl.load(SPEC)
    state = net.to_torch().state_dict()
    payload = {
        "bare": state,
        "cnndsl checkpoint": {"format": "cnndsl-checkpoint/1", "epoch": 2, "model": state},
        "wrapped": {"state_dict": state, "epoch": 2},
        "DataParallel": {f"module.{k}": v for k, v in state.items()},
    }[layout]
    torch.save(payload, tmp_path / "weights.pt")
    code, err, out = build(capsys, tmp_path, target, tmp_path / "weights.pt")
    assert code == 0, err
    assert out.exists()


def test_torch_target_never_overwrites_the_weights_it_reads(capsys, tmp_path):
    state = cnndsl.load(SPEC).to_torch().state_dict()
    checkpoint = {"format": "cnndsl-checkpoint/1", "model": state, "optimizer": {}}
    torch.save(checkpoint, tmp_path / "model.pt")
    before = (tmp_path / "model.pt").read_bytes()
    code, err, out = build(capsys, tmp_path, "torch", tmp_path / "model.pt")
    assert code == 1 and "would overwrite the weights file" in err
    assert (tmp_path / "model.pt").read_bytes() == before and not out.exists()
