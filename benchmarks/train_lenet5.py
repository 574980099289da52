"""`cnndsl train specs/lenet5.cnn` with all defaults: wall time and held-out accuracy.

Runs the real command in a fresh process per seed (process start to exit, as a
user sees it) and reads the final epoch's validation accuracy from
DIR/metrics.csv.  The issue's bar: >= 98.5% on the digits within 30 s on the
2-core CPU machine.

    python benchmarks/train_lenet5.py [--seeds 0 1 2] [--spec specs/lenet5.cnn]
"""

from __future__ import annotations

import argparse
import csv
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def default_spec() -> Path:
    spec = ROOT / "specs" / "lenet5.cnn"
    return spec if spec.exists() else ROOT / "tests" / "specs" / "train_lenet5.cnn"


def cpu_model() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_once(spec: Path, seed: int, extra: list[str]) -> tuple[float, float, float, int, float, float]:
    """(wall s, final val acc, best val acc, epochs, CPU s, load average before) of one run.

    The CPU time and the load average show when other jobs shared the cores:
    a wall time far above CPU time / cores means the run waited for them."""
    import os
    import resource
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "cnndsl", "train", str(spec), "--out", tmp, *extra]
        if seed is not None:
            command += ["--seed", str(seed)]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if done.returncode:
            sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
        with open(Path(tmp) / "metrics.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
    return (wall, float(rows[-1]["val_acc"]), max(float(r["val_acc"]) for r in rows), len(rows),
            cpu, load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=default_spec())
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("extra", nargs="*", help="extra cnndsl train options (after --)")
    args = parser.parse_args()
    print(f"machine: {cpu_model()}, {len(__import__('os').sched_getaffinity(0))} cores; "
          f"python {platform.python_version()}")
    print(f"command: cnndsl train {args.spec.relative_to(ROOT)} --seed S {' '.join(args.extra)}")
    print(f"{'seed':>4}  {'wall s':>7}  {'final acc':>9}  {'best acc':>8}  epochs  {'CPU s':>6}  load before")
    results = []
    for seed in args.seeds:
        wall, final, best, epochs, cpu, load = run_once(args.spec, seed, args.extra)
        results.append((wall, final))
        print(f"{seed:>4}  {wall:7.1f}  {100 * final:8.2f}%  {100 * best:7.2f}%  {epochs:>6}  "
              f"{cpu:6.1f}  {load:.1f}", flush=True)
    walls, finals = zip(*results)
    print(f"mean  {statistics.mean(walls):7.1f}  {100 * statistics.mean(finals):8.2f}%   "
          f"(min acc {100 * min(finals):.2f}%, max wall {max(walls):.1f} s)")


if __name__ == "__main__":
    main()
