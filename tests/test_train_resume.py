"""A run killed with SIGKILL after its first checkpoint resumes with --resume:
every epoch is logged exactly once and the run finishes.  A real subprocess and
a real kill."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
LENET = ROOT / "tests" / "specs" / "train_lenet5.cnn"
EPOCHS = 4


def cnndsl(*args) -> list[str]:
    return [sys.executable, "-m", "cnndsl", "train", str(LENET), *map(str, args)]


def test_sigkill_then_resume(tmp_path):
    out = tmp_path / "run"
    args = ("--epochs", EPOCHS, "--batch-size", 32, "--out", out)
    process = subprocess.Popen(cnndsl(*args), cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not (out / "last.pt").exists():
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    killed_at = torch.load(out / "last.pt", weights_only=True)["epoch"]
    assert 1 <= killed_at < EPOCHS, "the run finished before the kill: nothing to resume"

    resumed = subprocess.run(cnndsl("--resume", "--out", out), cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"after epoch {killed_at}" in resumed.stdout
    with open(out / "metrics.csv", newline="") as handle:
        epochs = [int(row["epoch"]) for row in csv.DictReader(handle)]
    assert epochs == list(range(1, EPOCHS + 1))
    final = torch.load(out / "last.pt", weights_only=True)
    assert final["epoch"] == EPOCHS and final["config"]["epochs"] == EPOCHS
    assert [row["epoch"] for row in final["history"]] == epochs
    assert (out / "curves.png").exists()
    assert not list(out.glob(".*.tmp"))
