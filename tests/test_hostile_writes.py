"""Issue 11 item 1 (data loss) and the full device of item 4: nothing cnndsl writes
replaces a file it did not create unless the user named that exact path; every
write is atomic (cnndsl.files), so a failed one leaves the old file and no
temporary; no link leads a write onto an input."""

from __future__ import annotations

import errno
import os
import shutil

import pytest

torch = pytest.importorskip("torch")

import cnndsl  # noqa: E402
from cnndsl.cli import main  # noqa: E402

from conftest import ROOT  # noqa: E402

TINY = ROOT / "tests" / "specs" / "train_tiny.cnn"


def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A finished one-epoch run: last.pt, best.pt, metrics.csv, curves.png."""
    out = tmp_path_factory.mktemp("run") / "RUN"
    assert main(["train", str(TINY), "--epochs", "1", "--out", str(out)]) == 0
    return out


@pytest.fixture
def run(run_folder, tmp_path):
    copy = tmp_path / "RUN"
    shutil.copytree(run_folder, copy)
    return copy


def test_build_beside_a_run_never_replaces_its_checkpoint(run, capsys):
    """`build -o RUN/last.py --weights RUN/best.pt` wrote RUN/last.pt over the
    run's resumable checkpoint (and `-o RUN/best.py --weights RUN/last.pt` its best)."""
    before = snapshot(run)
    for source, weights in (("last.py", "best.pt"), ("best.py", "last.pt")):
        code = main(["build", str(TINY), "--target", "torch", "-o", str(run / source),
                     "--weights", str(run / weights)])
        err = capsys.readouterr().err
        assert code == 1 and "refusing to replace" in err and "--weights-out" in err, err
        assert snapshot(run) == before  # not even the .py was written
    assert main(["train", str(TINY), "--resume", "--epochs", "2", "--out", str(run)]) == 0


def test_weights_out_names_the_weights_file(run, tmp_path, capsys):
    out = tmp_path / "export"
    code = main(["build", str(TINY), "--target", "torch", "-o", str(run / "last.py"),
                 "--weights", str(run / "best.pt"), "--weights-out", str(out / "tiny.pt")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"wrote {run / 'last.py'} and {out / 'tiny.pt'}" in err
    assert (run / "last.py").read_text().startswith("# Weights: tiny.pt (sha256 ")
    model = cnndsl.load(TINY).to_torch()
    model.load_state_dict(torch.load(out / "tiny.pt", weights_only=True))


def test_a_rebuild_replaces_the_weights_it_wrote_before(tmp_path, run, capsys):
    args = ["build", str(TINY), "--target", "torch", "-o", str(tmp_path / "model.py"),
            "--weights", str(run / "best.pt")]
    assert main(args) == 0 and main(args) == 0  # the second run replaces its own model.pt
    assert "wrote" in capsys.readouterr().err
    (tmp_path / "model.pt").write_bytes(b"someone else's file")  # no longer the one recorded
    assert main(args) == 1 and "refusing to replace" in capsys.readouterr().err
    assert (tmp_path / "model.pt").read_bytes() == b"someone else's file"


@pytest.mark.parametrize("link", ["hard", "symbolic"])
@pytest.mark.parametrize("command", ["torch", "onnx", "graph"])
def test_a_link_to_the_spec_is_never_written_through(tmp_path, capsys, link, command):
    spec = tmp_path / "net.cnn"
    spec.write_text(TINY.read_text())
    alias = tmp_path / ("alias.md" if command == "graph" else f"alias.{command[:4]}")
    (os.link if link == "hard" else os.symlink)(spec, alias)
    argv = (["graph", str(spec), "-o", str(alias)] if command == "graph" else
            ["build", str(spec), "--target", command, "-o", str(alias)])
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "refusing to write" in err and "the spec" in err
    assert spec.read_text() == TINY.read_text()


def test_a_link_to_the_weights_is_never_written_through(tmp_path, run, capsys):
    os.symlink(run / "best.pt", tmp_path / "model.pt")
    before = (run / "best.pt").read_bytes()
    code = main(["build", str(TINY), "--target", "torch", "-o", str(tmp_path / "model.py"),
                 "--weights", str(run / "best.pt")])
    assert code == 1 and "the weights file this command reads" in capsys.readouterr().err
    assert (run / "best.pt").read_bytes() == before


def test_train_never_overwrites_a_curves_png_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "curves.png").write_bytes(b"my own figure")
    code = main(["train", str(TINY), "--epochs", "1", "--out", str(out)])
    assert code == 1 and "curves.png" in capsys.readouterr().err
    assert snapshot(out) == {"curves.png": b"my own figure"}


def test_graph_fallback_dot_replaces_only_a_dot_cnndsl_drew(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("cnndsl.backends.graph.find_dot", lambda: None)
    (tmp_path / "net.dot").write_text("digraph mine { a -> b }\n")
    argv = ["graph", str(TINY), "-o", str(tmp_path / "net.svg")]
    assert main(argv) == 1 and "refusing to replace" in capsys.readouterr().err
    assert (tmp_path / "net.dot").read_text() == "digraph mine { a -> b }\n"
    (tmp_path / "net.dot").unlink()
    assert main(argv) == 3 and main(argv) == 3  # the second replaces the first's own .dot


def test_onnx_external_data_is_written_atomically_and_guarded(tmp_path, monkeypatch, capsys):
    onnx = pytest.importorskip("onnx")
    import cnndsl.backends.onnx as backend
    monkeypatch.setattr(backend, "EXTERNAL_DATA_BYTES", 0)  # as if the weights were 2 GiB
    out = tmp_path / "tiny.onnx"
    argv = ["build", str(TINY), "--target", "onnx", "-o", str(out)]
    assert main(argv) == 0 and main(argv) == 0
    onnx.checker.check_model(str(out), full_check=True)
    assert (tmp_path / "tiny.onnx.data").stat().st_size > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    (tmp_path / "other.onnx.data").write_bytes(b"not ours")
    code = main(["build", str(TINY), "--target", "onnx", "-o", str(tmp_path / "other.onnx")])
    assert code == 1 and "refusing to replace" in capsys.readouterr().err
    assert (tmp_path / "other.onnx.data").read_bytes() == b"not ours"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_writing_to_a_full_device_is_a_clear_error(capsys):
    code = main(["build", str(TINY), "--target", "torch", "-o", "/dev/full"])
    err = capsys.readouterr().err
    assert code == 1 and "cannot write /dev/full: No space left on device" in err
    assert "internal error" not in err


@pytest.mark.parametrize("target", ["torch", "onnx", "graph"])
def test_a_disk_that_fills_up_keeps_the_old_file(tmp_path, capsys, monkeypatch, target):
    out = tmp_path / {"torch": "model.py", "onnx": "model.onnx", "graph": "model.dot"}[target]
    out.write_text("the previous version")
    real_fsync = os.fsync

    def full(fd):  # the disk fills up as the new file is flushed
        if os.fstat(fd).st_size:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)
    monkeypatch.setattr(os, "fsync", full)
    argv = (["graph", str(TINY), "-o", str(out)] if target == "graph" else
            ["build", str(TINY), "--target", target, "-o", str(out)])
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"cannot write {out}: No space left on device" in err and "internal error" not in err
    assert out.read_text() == "the previous version"
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temporary left


def test_the_python_api_never_overwrites_the_spec(tmp_path):
    pytest.importorskip("onnx")
    spec = tmp_path / "net.onnx"  # a spec may have any name
    spec.write_text(TINY.read_text())
    with pytest.raises(cnndsl.SpecError, match="refusing to write"):
        cnndsl.load(spec).to_onnx(spec)
    assert spec.read_text() == TINY.read_text()
