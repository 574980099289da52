"""`cnndsl build`: the target follows from the -o suffix; `-o -` writes the
PyTorch source to standard output."""

from pathlib import Path

import pytest

from cnndsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
LENET = ROOT / "specs" / "lenet5.cnn"


def build(capsys, *args):
    code = main(["build", str(LENET), *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name, magic", [("net.py", b"import torch"), ("net.onnx", b"\x08")])
def test_target_from_suffix(tmp_path, capsys, name, magic):
    code, _, err = build(capsys, "-o", tmp_path / name)
    assert code == 0, err
    assert magic in (tmp_path / name).read_bytes()[:400]
    assert ("(torch," if name.endswith(".py") else "(onnx,") in err


def test_source_to_stdout(capsys):
    from cnndsl.backends.torch import generate_source
    from cnndsl.network import load
    code, out, err = build(capsys, "-o", "-")
    assert code == 0, err
    assert out == generate_source(load(LENET)) and "class " in out


def test_explicit_target_wins(tmp_path, capsys):
    code, _, err = build(capsys, "--target", "torch", "-o", tmp_path / "model.txt")
    assert code == 0, err
    assert "import torch" in (tmp_path / "model.txt").read_text()


@pytest.mark.parametrize("args, message", [
    (["-o", "model.bin"], "cannot tell the target from -o model.bin"),
    (["-o", "-", "--target", "onnx"], "an ONNX graph is binary"),
    (["-o", "-", "--weights", "x.pt"], "-o - writes only the source"),
    (["-o", "net.py", "--with-preprocessing"], "--with-preprocessing applies to --target onnx"),
])
def test_errors(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = build(capsys, *args)
    assert code == 1 and message in err and out == "" and not list(tmp_path.iterdir())
