"""DDP: two gloo processes on the CPU give the same final weights as one process
on the same global batch (DistributedSampler order, gradients averaged)."""

import csv
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "specs" / "train_tiny.cnn"


def train(out: Path, *extra) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "cnndsl", "train", str(TINY), "--epochs", "2",
               "--batch-size", "64", "--device", "cpu", "--out", str(out), *map(str, extra)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_two_gloo_processes_match_one(tmp_path):
    one = train(tmp_path / "one")
    assert one.returncode == 0, one.stderr
    two = train(tmp_path / "two", "--nproc-per-node", 2)
    assert two.returncode == 0, two.stderr
    assert "2 processes" in two.stdout
    assert two.stdout.count("epoch 2/2") == 1  # rank 0 alone reports

    a = torch.load(tmp_path / "one" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "two" / "last.pt", weights_only=True)["model"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], rtol=1e-4, atol=1e-6), key

    def accuracies(run):
        with open(tmp_path / run / "metrics.csv", newline="") as handle:
            return [(float(r["train_acc"]), float(r["val_acc"])) for r in csv.DictReader(handle)]
    assert accuracies("one") == accuracies("two")  # every sample counted once, across ranks
