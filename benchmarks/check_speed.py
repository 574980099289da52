"""How fast is `cnndsl check`, as a whole process, against torchinfo?

Measures in one run, each as a fresh process (median of --repeats, with peak RSS):
  1. torchinfo's summary of torchvision's resnet152 (the issue's reference: 5.4 s, 950 MiB)
  2. `cnndsl check specs/resnet152.cnn`, and EfficientNet-B7 from its family spec
  3. generated specs of 250 / 500 / 1,000 / 2,000 residual blocks (the cost must be linear)

    pip install torchinfo      # the benchmark's only extra; not a cnndsl dependency
    python benchmarks/check_speed.py [--repeats 5] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TORCHINFO = """
import torchvision, torchinfo
model = torchvision.models.resnet152()
torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)
"""

BLOCK_LIBRARY = """
block basic(c, stride = 1) {
  add {
    path { conv(c, 3, stride=stride, pad=1, bias=false); bn; relu
           conv(c, 3, pad=1, bias=false); bn }
    path if stride != 1 or in.channels != c { conv(c, 1, stride=stride, bias=false); bn }
    else identity
  }
  relu
}
"""


def generated_spec(blocks: int) -> str:
    """A residual network of `blocks` basic blocks in four stages, written out one
    call per line (no `repeat`), so parsing cost grows with the block count too."""
    per_stage = blocks // 4
    lines = [BLOCK_LIBRARY, f"network generated{blocks}(classes = 1000) {{",
             "  input 3x224x224", "  conv(64, 7, stride=2, pad=3, bias=false); bn; relu",
             "  maxpool(3, stride=2, pad=1)"]
    for stage, width in enumerate((64, 128, 256, 512)):
        for i in range(per_stage):
            stride = 2 if stage and not i else 1
            lines.append(f"  basic({width}, stride={stride})")
    lines += ["  avgpool(global); flatten; fc(classes)", "}"]
    return "\n".join(lines) + "\n"


def run_process(argv: list[str]) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) and CPU seconds (user + system) of one child
    process; CPU time barely moves when other work shares the machine, wall time does."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{proc.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def measure(argv: list[str], repeats: int) -> tuple[float, float, float]:
    runs = [run_process(argv) for _ in range(repeats)]
    return (statistics.median(r[0] for r in runs), max(r[1] for r in runs),
            statistics.median(r[2] for r in runs))


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--skip-torchinfo", action="store_true")
    args = parser.parse_args()
    py = sys.executable
    check = [py, "-m", "cnndsl", "check", "-q"]
    rows = []
    if not args.skip_torchinfo:
        rows.append(("torchinfo.summary(torchvision resnet152)",
                     *measure([py, "-c", TORCHINFO], max(1, args.repeats // 2 + 1)), None))
    rows.append(("cnndsl check specs/resnet152.cnn",
                 *measure(check + ["specs/resnet152.cnn"], args.repeats), None))
    if (ROOT / "specs" / "efficientnet.cnn").exists():  # a family: every width from its rule
        rows.append(("cnndsl check specs/efficientnet.cnn --set variant=b7",
                     *measure(check + ["specs/efficientnet.cnn", "--set", "variant=b7"],
                              args.repeats), None))
    with tempfile.TemporaryDirectory() as tmp:
        for blocks in (250, 500, 1000, 2000):
            spec = Path(tmp) / f"generated{blocks}.cnn"
            spec.write_text(generated_spec(blocks))
            import cnndsl  # in-process only to count the layers of the generated spec
            layers = len(cnndsl.load(spec).graph.nodes) - 1
            rows.append((f"cnndsl check, generated {blocks:,} blocks",
                         *measure(check + [str(spec)], args.repeats), layers))
    reference = rows[0][1] if not args.skip_torchinfo else None
    print(f"machine: {machine()}; {time.strftime('%Y-%m-%d')}; median of {args.repeats} runs")
    if args.markdown:
        print("\n| what | layers | wall (s) | CPU (s) | peak RSS (MiB) | vs torchinfo |\n"
              "|---|---:|---:|---:|---:|---:|")
    for name, wall, rss, cpu, layers in rows:
        ratio = f"{reference / wall:.1f}x faster" if reference and "torchinfo" not in name else ""
        if args.markdown:
            print(f"| {name} | {layers or ''} | {wall:.3f} | {cpu:.3f} | {rss:.0f} | {ratio} |")
        else:
            print(f"{name:54s} {layers or '':>7} {wall:8.3f} s {cpu:7.3f} s CPU {rss:5.0f} MiB"
                  f"  {ratio}")


if __name__ == "__main__":
    main()
