"""`cnndsl train specs/lenet5.cnn` against a hand-written PyTorch loop of the same job.

Both run as whole processes (start to exit, as a user sees them), alternating,
in one run of this script, so that the machine's load falls on both alike.  The
hand-written loop is benchmarks/handwritten_lenet5.py: the same network, data,
split, preprocessing, augmentation, optimiser, schedule and epochs, in plain
PyTorch, writing nothing.  Prints wall and CPU seconds of every run, their
medians, the ratios cnndsl / hand-written and both accuracies.

    python benchmarks/train_vs_handwritten.py [--runs 3] [-- extra cnndsl train options]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANDWRITTEN = ROOT / "benchmarks" / "handwritten_lenet5.py"


def timed(command: list[str]) -> tuple[float, float, str]:
    """(wall s, CPU s of the process and its children, stdout) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def run_cnndsl(extra: list[str]) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu, _ = timed([sys.executable, "-m", "cnndsl", "train", "specs/lenet5.cnn",
                              "--out", str(Path(tmp) / "run"), *extra])
        with open(Path(tmp) / "run" / "metrics.csv", newline="") as handle:
            accuracy = float(list(csv.DictReader(handle))[-1]["val_acc"])
    return wall, cpu, accuracy


def run_handwritten() -> tuple[float, float, float]:
    wall, cpu, out = timed([sys.executable, str(HANDWRITTEN)])
    accuracy = float(re.search(r"final validation accuracy ([\d.]+)%", out).group(1)) / 100
    return wall, cpu, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("extra", nargs="*", help="extra cnndsl train options (after --)")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores; "
          f"python {platform.python_version()}; load average before {os.getloadavg()[0]:.2f}")
    rows = {"cnndsl": [], "hand-written": []}
    for k in range(args.runs):
        for name, run in (("cnndsl", lambda: run_cnndsl(args.extra)), ("hand-written", run_handwritten)):
            wall, cpu, accuracy = run()
            rows[name].append((wall, cpu, accuracy))
            print(f"run {k + 1} {name:>12}: wall {wall:6.2f} s  CPU {cpu:6.2f} s  "
                  f"accuracy {100 * accuracy:.2f}%", flush=True)
    medians = {name: (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
               for name, runs in rows.items()}
    for name, (wall, cpu) in medians.items():
        accuracies = ", ".join(f"{100 * r[2]:.2f}%" for r in rows[name])
        print(f"median {name:>12}: wall {wall:6.2f} s  CPU {cpu:6.2f} s  accuracies {accuracies}")
    (cw, cc), (hw, hc) = medians["cnndsl"], medians["hand-written"]
    print(f"ratio cnndsl / hand-written: wall {cw / hw:.3f}x  CPU {cc / hc:.3f}x")


if __name__ == "__main__":
    main()
