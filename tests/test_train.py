"""`cnndsl train` / `cnndsl eval`: a short real digits run, checkpoints, transfer
learning, clear errors.  Data-format loaders: test_train_data.py; SIGKILL and
resume: test_train_resume.py; DDP: test_train_ddp.py."""

import csv
import sys
from pathlib import Path

import pytest
import torch

from cnndsl.cli import main
from cnndsl.state_dicts import digest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "tests" / "specs"
LENET = SPECS / "train_lenet5.cnn"
TINY = SPECS / "train_tiny.cnn"


def train(capsys, *args) -> tuple[int, str, str]:
    code = main(["train", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def rows(folder: Path) -> list[dict]:
    with open(folder / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """One short run of the tiny spec on the digits, shared by several tests."""
    out = tmp_path_factory.mktemp("tiny")
    assert main(["train", str(TINY), "--epochs", "3", "--out", str(out)]) == 0
    return out


def test_lenet5_digits_short_run(tmp_path, capsys):
    # 3 epochs of the default recipe: a broken loop (no learning, wrong labels,
    # eval on train data shuffled differently) cannot reach this bar.
    code, out, err = train(capsys, LENET, "--epochs", "3", "--out", tmp_path)
    assert code == 0, err
    table = rows(tmp_path)
    assert [int(r["epoch"]) for r in table] == [1, 2, 3]
    assert float(table[-1]["val_acc"]) >= 0.93
    assert float(table[-1]["train_loss"]) < float(table[0]["train_loss"])
    assert "epoch 3/3" in out and "val" in out
    for name in ("last.pt", "best.pt", "curves.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_metrics_columns_and_checkpoint_contents(tiny_run):
    with open(tiny_run / "metrics.csv") as handle:
        assert handle.readline().strip() == \
            "epoch,train_loss,train_acc,val_loss,val_acc,lr,images_per_s,seconds,val_top5"
    data = torch.load(tiny_run / "last.pt", weights_only=True)
    assert data["epoch"] == 3 and data["spec_text"] == TINY.read_text()
    assert len(data["spec_sha256"]) == 64 and data["cnndsl_version"]
    assert data["config"]["epochs"] == 3
    for key in ("model", "optimizer", "scheduler", "scaler", "rng", "history", "preprocess"):
        assert key in data
    assert not list(tiny_run.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_eval_reports_accuracy_and_confusion(tiny_run, capsys):
    assert main(["eval", str(TINY), "--weights", str(tiny_run / "last.pt"), "--format", "json"]) == 0
    import json
    result = json.loads(capsys.readouterr().out)
    assert result["count"] == 359 and len(result["confusion"]) == 10
    assert sum(map(sum, result["confusion"])) == 359
    assert result["accuracy"] == pytest.approx(float(rows(tiny_run)[-1]["val_acc"]), abs=1e-6)
    assert main(["eval", str(TINY), "--weights", str(tiny_run / "best.pt")]) == 0
    assert "confusion matrix" in capsys.readouterr().out


def test_corrupt_checkpoint_is_a_clear_error(tiny_run, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    data = (tiny_run / "last.pt").read_bytes()
    (out / "last.pt").write_bytes(data[: len(data) // 2])
    code, _, err = train(capsys, TINY, "--out", out, "--resume")
    assert code == 1 and "corrupt" in err and "Traceback" not in err
    assert main(["eval", str(TINY), "--weights", str(out / "last.pt")]) == 1
    assert "corrupt" in capsys.readouterr().err


def test_resume_refuses_another_spec(tiny_run, tmp_path, capsys):
    other = tmp_path / "other.cnn"
    other.write_text(TINY.read_text().replace("conv(8, 3", "conv(6, 3"))
    out = tmp_path / "run"
    out.mkdir()
    (out / "last.pt").write_bytes((tiny_run / "last.pt").read_bytes())
    code, _, err = train(capsys, other, "--out", out, "--resume", "--epochs", "4")
    assert code == 1 and "different spec" in err


def test_resume_without_checkpoint(tmp_path, capsys):
    code, _, err = train(capsys, TINY, "--out", tmp_path, "--resume")
    assert code == 1 and "no checkpoint" in err


def test_init_and_freeze(tiny_run, tmp_path, capsys):
    start = torch.load(tiny_run / "last.pt", weights_only=True)["model"]
    code, out, err = train(capsys, TINY, "--epochs", "1", "--out", tmp_path,
                           "--init", tiny_run / "last.pt", "--freeze", "conv*")
    assert code == 0, err
    assert "frozen: conv1" in out
    after = torch.load(tmp_path / "last.pt", weights_only=True)["model"]
    assert torch.equal(after["conv1.weight"], start["conv1.weight"])  # frozen, initialised
    assert not torch.equal(after["fc1.weight"], start["fc1.weight"])  # trained on


def test_init_from_state_dict_with_another_head(tiny_run, tmp_path, capsys):
    # a plain state dict (as torchvision ships) whose head has 5 classes
    state = torch.load(tiny_run / "last.pt", weights_only=True)["model"]
    state["fc1.weight"], state["fc1.bias"] = torch.zeros(5, 128), torch.zeros(5)
    torch.save(state, tmp_path / "weights.pth")
    code, out, err = train(capsys, TINY, "--epochs", "1", "--out", tmp_path / "run", "--lr", "1e-9",
                           "--init", tmp_path / "weights.pth")
    assert code == 0, err
    assert "re-initialised: fc1.weight" in out
    after = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["model"]
    assert torch.allclose(after["conv1.weight"], state["conv1.weight"], atol=1e-6)
    assert after["fc1.weight"].shape == (10, 128) and after["fc1.weight"].abs().sum() > 0


def test_freeze_matching_nothing(tmp_path, capsys):
    code, _, err = train(capsys, TINY, "--out", tmp_path, "--freeze", "nosuchlayer")
    assert code == 1 and "matches no layer" in err and "conv1" in err


@pytest.mark.parametrize("args, message", [
    (["--data", "mnist:/no/such/folder"], "does not exist"),
    (["--data", "imagefolder:/no/such/folder"], "does not exist"),
    (["--data", "cifar10:/no/such/folder"], "does not exist"),
    (["--data", "mnist"], "needs a path"),
    (["--data", "nosuch"], "unknown data source"),
    (["--init", "/no/such/weights.pt"], "does not exist"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--epochs", "-2"], "--epochs must be at least 1"),
    (["--nproc-per-node", "0"], "--nproc-per-node must be at least 1"),
    (["--lr", "nan"], "--lr must be a finite positive number"),
    (["--lr", "inf"], "--lr must be a finite positive number"),
    (["--lr", "-1"], "--lr must be a finite positive number"),
    (["--lr", "0"], "--lr must be a finite positive number"),
    (["--weight-decay", "-5"], "--weight-decay must be a finite number >= 0"),
    (["--weight-decay", "nan"], "--weight-decay must be a finite number >= 0"),
    (["--workers", "-1"], "--workers must be 0 or more"),
    (["--seed", "99999999999999999999"], "--seed must be in 0..4294967295"),
    (["--seed", "-1"], "--seed must be in 0..4294967295"),
    (["--label-smoothing", "1"], "--label-smoothing must be in [0, 1)"),
    (["--label-smoothing", "-0.1"], "--label-smoothing must be in [0, 1)"),
    (["--label-smoothing", "nan"], "--label-smoothing must be in [0, 1)"),
])
def test_bad_arguments_are_clear_errors(tmp_path, capsys, args, message):
    code, out, err = train(capsys, TINY, "--out", tmp_path, *args)
    assert code == 1, err
    assert message in err and "Traceback" not in err and "internal error" not in err
    assert "epoch 1/" not in out  # refused before training


def test_missing_spec_file(tmp_path, capsys):
    code, _, err = train(capsys, tmp_path / "nope.cnn")
    assert code == 1 and "does not exist" in err


@pytest.mark.parametrize("command, message", [
    (["train", "{tmp}", "--out", "{tmp}/run"], "is a folder, not a .cnn spec file"),
    (["eval", TINY, "--weights", "{tmp}"], "is a folder, not a checkpoint file"),
    (["eval", TINY, "--weights", "{tmp}/plain.pt"], "needs a checkpoint written by cnndsl train"),
    (["train", TINY, "--data", "imagefolder:{tmp}/plain.pt", "--out", "{tmp}/run"],
     "is a file, not a folder"),
    (["train", TINY, "--data", "cifar10:{tmp}/plain.pt", "--out", "{tmp}/run"],
     "is a file, not a folder"),
])
def test_misleading_paths_get_precise_messages(tmp_path, capsys, command, message):
    torch.save({"conv1.weight": torch.zeros(8, 1, 3, 3)}, tmp_path / "plain.pt")  # a plain state dict
    code = main([str(part).format(tmp=tmp_path) for part in command])
    err = capsys.readouterr().err
    assert code == 1, err
    assert message in err and "does not exist" not in err and "--init" not in err


@pytest.mark.parametrize("spec, detail", [
    (LENET, "conv1.weight is 8x1x3x3 in the checkpoint, 20x1x5x5 in the network"),
    (SPECS / "train_fixed_head.cnn", "cannot be built with its input and parameters"),
])
def test_eval_with_another_spec_names_the_checkpoints_spec(tiny_run, capsys, spec, detail):
    code = main(["eval", str(spec), "--weights", str(tiny_run / "best.pt")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert f"trained from another spec ({TINY})" in err and detail in err
    assert f"hint: evaluate it with the spec it was trained from: {TINY}" in err


def test_file_modes_follow_the_umask(tiny_run):
    import os
    mask = os.umask(0)
    os.umask(mask)
    for name in ("last.pt", "best.pt", "metrics.csv"):
        assert (tiny_run / name).stat().st_mode & 0o777 == 0o666 & ~mask, name


@pytest.mark.parametrize("present", [("last.pt",), ("best.pt",), ("metrics.csv",),
                                     ("last.pt", "best.pt", "metrics.csv", "curves.png")])
def test_explicit_out_holding_a_run_is_refused(tiny_run, tmp_path, capsys, present):
    out = tmp_path / "run"
    out.mkdir()
    for name in present:
        (out / name).write_bytes((tiny_run / name).read_bytes())
    before = {name: (out / name).read_bytes() for name in present}
    code, stdout, err = train(capsys, TINY, "--epochs", "1", "--out", out)
    assert code == 1 and "already holds a run" in err and "--resume" in err
    assert "epoch 1/1" not in stdout
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # untouched, nothing added


def _a_file(path: Path, monkeypatch) -> Path:
    path.write_text("not a folder")
    return path


def _read_only(path: Path, monkeypatch) -> Path:
    import os
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    path.mkdir()
    path.chmod(0o555)
    return path


def _probe_refused(path: Path, monkeypatch) -> Path:
    """What a read-only folder does to a process that is not root."""
    from cnndsl.train import rundir

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(rundir.tempfile, "mkstemp", refuse)
    return path


@pytest.mark.parametrize("make, message", [
    (_a_file, "is a file, not a folder"),
    (_read_only, "cannot write to --out"),
    (_probe_refused, "cannot write to --out"),
])
def test_unwritable_out_is_refused_before_training(tmp_path, capsys, monkeypatch, make, message):
    out = make(tmp_path / "out", monkeypatch)
    try:
        code, stdout, err = train(capsys, TINY, "--epochs", "1", "--out", out)
    finally:
        if out.is_dir():
            out.chmod(0o755)  # let pytest clean up
    assert code == 1, err
    assert message in err and "internal error" not in err and "Traceback" not in err
    assert "training tiny" not in stdout  # refused before the data were loaded


def test_failed_checkpoint_write_is_the_error_shown(tmp_path, capsys, monkeypatch):
    import os
    replace = os.replace

    def disk_full(src, dst, *args, **kwargs):  # every rename into the run folder fails
        if str(tmp_path) in str(dst):
            raise OSError(28, "No space left on device")
        return replace(src, dst, *args, **kwargs)
    monkeypatch.setattr(os, "replace", disk_full)
    code, _, err = train(capsys, TINY, "--epochs", "1", "--out", tmp_path / "run")
    assert code == 1 and "internal error" not in err
    # the first failure, not the metrics.csv write the clean-up tried after it
    assert "cannot write" in err and "last.pt: No space left on device" in err
    assert "metrics.csv" not in err
    assert not list((tmp_path / "run").glob(".*.tmp"))


@pytest.mark.parametrize("hook, continues", [("start_epoch", False), ("end_epoch", True)])
def test_interrupt_says_how_to_continue(tmp_path, capsys, monkeypatch, hook, continues):
    from cnndsl.train.progress import Progress

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(Progress, hook, interrupt)  # end_epoch: after the first checkpoint
    out = tmp_path / "run"
    code, _, err = train(capsys, TINY, "--epochs", "2", "--out", out)
    assert code == 130 and "interrupted" in err
    assert (f"cnndsl train {TINY} --resume --out {out}" in err) == continues
    assert (out / "last.pt").exists() == continues


def test_extending_a_finished_run_restarts_the_schedule(tiny_run, tmp_path, capsys):
    import math
    out = tmp_path / "run"
    out.mkdir()
    (out / "last.pt").write_bytes((tiny_run / "last.pt").read_bytes())
    saved = torch.load(out / "last.pt", weights_only=True)
    assert saved["optimizer"]["param_groups"][0]["lr"] == 0  # a finished cosine ends at 0
    code, _, err = train(capsys, TINY, "--out", out, "--resume", "--epochs", "4")
    assert code == 0, err
    table = rows(out)
    assert [int(r["epoch"]) for r in table] == [1, 2, 3, 4]
    # the 4-epoch cosine at the start of epoch 4 (22 steps per epoch, warm-up 15% of 88)
    warmup = int(0.15 * 88)
    t = (66 - warmup) / (88 - warmup)
    assert float(table[3]["lr"]) == pytest.approx(2e-3 * 0.5 * (1 + math.cos(math.pi * t)), rel=1e-4)


def test_curves_have_whole_epoch_ticks(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from cnndsl.train.metrics import plot_curves
    ticks, savefig = [], Figure.savefig

    def record(fig, *args, **kwargs):
        ticks.extend(t for ax in fig.axes for t in ax.get_xticks())
        return savefig(fig, *args, **kwargs)
    monkeypatch.setattr(Figure, "savefig", record)
    row = {"train_loss": 1.0, "val_loss": 1.0, "train_acc": 0.5, "val_acc": 0.5}
    plot_curves(tmp_path / "curves.png", [dict(row, epoch=k) for k in (1, 2, 3)], "three epochs")
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_channel_mismatch(tmp_path, capsys):
    code, _, err = train(capsys, SPECS / "train_tiny_rgb.cnn", "--out", tmp_path)
    assert code == 1 and "3-channel input" in err and "1-channel images" in err


def test_class_count_mismatch_without_parameter(tmp_path, capsys):
    code, _, err = train(capsys, SPECS / "train_fixed_head.cnn", "--out", tmp_path)
    assert code == 1 and "outputs 3 scores per image" in err and "has 10" in err


def test_class_count_adapts_through_parameter(tmp_path, capsys):
    spec = tmp_path / "five.cnn"
    spec.write_text(TINY.read_text().replace("classes = 10", "classes = 5"))
    code, out, err = train(capsys, spec, "--epochs", "1", "--out", tmp_path / "run")
    assert code == 0, err
    assert "classes=10" in out
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=True)["model"]["fc1.weight"].shape[0] == 10


def test_explicit_classes_mismatch_is_an_error(tmp_path, capsys):
    code, _, err = train(capsys, TINY, "--out", tmp_path, "--set", "classes=4")
    assert code == 1 and "outputs 4 scores per image" in err


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tiny_run, tmp_path, capsys):
    code, _, err = train(capsys, TINY, "--epochs", "3", "--out", tmp_path, "--optimizer", "sgd",
                         "--lr", "1e30", "--schedule", "none")
    assert code == 1 and "the loss became" in err and "Traceback" not in err
    assert not (tmp_path / "last.pt").exists()  # nothing good to keep from epoch 1
    assert "no checkpoint was written" in err and "last good checkpoint" not in err
    # a resumed run that diverges keeps the good checkpoint it started from
    out = tmp_path / "resumed"
    out.mkdir()
    saved = torch.load(tiny_run / "last.pt", weights_only=True)
    saved["model"]["fc1.weight"] *= 1e38  # finite, but the next forward overflows
    saved["sha256"] = digest(saved)  # as if training had written it
    torch.save(saved, out / "last.pt")
    code, _, err = train(capsys, TINY, "--out", out, "--resume", "--epochs", "5")
    assert code == 1 and f"last good checkpoint is kept ({out / 'last.pt'}, epoch 3)" in err
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] == 3


def test_check_stays_torch_free():
    import subprocess
    code = ("import sys; from cnndsl.cli import main; "
            f"main(['check', '-q', {str(TINY)!r}]); "
            "assert 'torch' not in sys.modules and 'sklearn' not in sys.modules, 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_help_lists_train_options(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for option in ("--data", "--epochs", "--resume", "--init", "--freeze", "--nproc-per-node",
                   "--amp", "--channels-last", "--compile"):
        assert option in out


@pytest.mark.gpu
def test_gpu_paths(tmp_path, capsys):
    # bf16 autocast, channels_last, torch.compile and device-resident data on CUDA
    code, out, err = train(capsys, LENET, "--epochs", "2", "--out", tmp_path, "--device", "cuda")
    assert code == 0, err
    assert "amp bf16" in out and "channels_last" in out and "compiled" in out
    assert float(rows(tmp_path)[-1]["val_acc"]) >= 0.9


@pytest.mark.gpu
def test_gpu_synthetic(tmp_path, capsys):
    code, out, err = train(capsys, SPECS / "train_tiny_rgb.cnn", "--data", "synthetic:2048",
                           "--epochs", "1", "--out", tmp_path, "--device", "cuda", "--no-compile")
    assert code == 0, err


def test_a_run_removes_only_its_own_temporaries(capsys, tmp_path):
    """A killed run leaves `.last.pt.XXXX.tmp`; the next one clears that, and
    nothing else a user keeps in the folder."""
    out = tmp_path / "shared"
    out.mkdir()
    mine = [".last.pt.abc123.tmp", ".metrics.csv.tmp", ".curves.png.tmp.png"]
    theirs = [".draft.tmp.md", ".notes.tmp", "keep.txt", ".last.pt.bak"]
    for name in mine + theirs:
        (out / name).write_text("x")
    from cnndsl.train import rundir
    rundir.prepare(out)
    assert sorted(p.name for p in out.iterdir()) == sorted(theirs)
