"""How fast, and in how much memory, does cnndsl refuse hostile and huge input?

Generates the inputs of issue 11 item 5 in a temporary folder and runs each
command as a fresh process, reporting wall time and peak RSS (each process is
capped at --cap-mib of address space so that an unbounded run is stopped, not
left to exhaust the machine):

  1. a 52 MB spec (4,000,000 layers written out)        cnndsl check
  2. a 1.2 MB spec (66,000 lines)                        cnndsl check
  3. an 800 KB expression (400,000 additions)            cnndsl check
  4. block doubling: 2**39 layers from 41 lines           cnndsl check
  5. fc(100000); fc(100000): 10**10 parameters            cnndsl build --target onnx
  6. a gzip bomb: an MNIST image file whose header says 40 images, then 256 MB more
                                                          cnndsl train --data mnist:
  7. the 2,000-block residual spec of check_speed.py      cnndsl check (for scale)

    python benchmarks/hostile_inputs.py [--cap-mib 3072] [--markdown]

`--checkout PATH` measures the cnndsl of another checkout (e.g. the code
before issue 11) on the same inputs.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from check_speed import generated_spec  # noqa: E402


def make_inputs(folder: Path) -> list[tuple[str, list[str]]]:
    huge = folder / "huge.cnn"
    with open(huge, "w") as handle:
        handle.write("network n {\n  input 1x8x8\n" + "  conv(4, 1)\n" * 4_000_000 + "}\n")
    big = folder / "big.cnn"
    big.write_text("network n {\n  input 1x8x8\n" + "  conv(4, 1); relu\n" * 66_000 + "}\n")
    expr = folder / "expr.cnn"
    expr.write_text("network n {\n  input 1x8x8\n  conv(" + "1+" * 400_000 + "1, 3)\n}\n")
    lines = ["block b0(c) { conv(c, 1) }"]
    lines += [f"block b{k}(c) {{ b{k - 1}(c); b{k - 1}(c) }}" for k in range(1, 40)]
    doubling = folder / "doubling.cnn"
    doubling.write_text("\n".join(lines) + "\nnetwork n {\n  input 1x8x8\n  b39(4)\n}\n")
    wide = folder / "wide.cnn"
    wide.write_text("network wide(classes = 10) {\n  input 1x8x8\n  flatten\n"
                    "  fc(100000); fc(100000); fc(classes)\n}\n")
    mnist = folder / "mnist"
    _gzip_bomb_mnist(mnist)
    blocks = folder / "generated2000.cnn"
    blocks.write_text(generated_spec(2000))
    tiny = ROOT / "tests" / "specs" / "train_tiny.cnn"
    return [
        ("52 MB spec", ["check", "-q", str(huge)]),
        ("1.2 MB spec", ["check", "-q", str(big)]),
        ("800 KB expression", ["check", "-q", str(expr)]),
        ("2**39-layer block doubling", ["check", "-q", str(doubling)]),
        ("10**10 parameters, build onnx", ["build", str(wide), "--target", "onnx", "-o",
                                           str(folder / "wide.onnx")]),
        ("gzip-bombed MNIST, train", ["train", str(tiny), "--data", f"mnist:{mnist}",
                                      "--out", str(folder / "run")]),
        ("2,000-block residual spec (valid)", ["check", "-q", str(blocks)]),
    ]


def _gzip_bomb_mnist(folder: Path) -> None:
    folder.mkdir()

    def idx(magic, dims):
        return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    with gzip.open(folder / "train-images-idx3-ubyte.gz", "wb", compresslevel=9) as handle:
        handle.write(idx(0x803, [40, 28, 28]) + bytes(40 * 28 * 28))
        for _ in range(16):
            handle.write(bytes(1 << 24))
    (folder / "train-labels-idx1-ubyte").write_bytes(idx(0x801, [40]) + bytes(range(10)) * 4)
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx(0x803, [10, 28, 28]) + bytes(7840))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx(0x801, [10]) + bytes(range(10)))


def run(argv: list[str], cap_mib: int, checkout: Path = ROOT) -> tuple[float, float, int, str]:
    """(seconds, peak RSS in MiB, exit code, first line of stderr) of one process."""
    def limit():
        size = cap_mib << 20
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([sys.executable, "-m", "cnndsl", *argv],
                                   stdout=subprocess.DEVNULL, stderr=err, preexec_fn=limit,
                                   cwd=checkout, env={**os.environ, "PYTHONPATH": str(checkout)})
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        lines = [line for line in err.read().splitlines() if line.strip()]
    return seconds, usage.ru_maxrss / 1024, process.returncode, (lines[0] if lines else "")[:110]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap-mib", type=int, default=3072,
                        help="address-space cap per process (torch needs about 3 GiB)")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--checkout", type=Path, default=ROOT,
                        help="the cnndsl checkout to measure (default: this one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = make_inputs(Path(tmp))
        rows = []
        for name, argv in cases:
            cap = max(args.cap_mib, 8192) if argv[0] in ("build", "train") else args.cap_mib
            seconds, peak, code, first = run(argv, cap, args.checkout.resolve())
            rows.append((seconds, peak, code, first))
            print(f"{name}: {seconds:.2f} s, {peak:.0f} MiB, exit {code}: {first}",
                  file=sys.stderr)
    if args.markdown:
        print("| input | command | wall | peak RSS | exit | first line of the answer |")
        print("|---|---|---:|---:|---:|---|")
        for (name, argv), (seconds, peak, code, first) in zip(cases, rows):
            first = first.replace("|", "\\|")
            print(f"| {name} | `cnndsl {argv[0]}` | {seconds:.2f} s | {peak:.0f} MiB | {code} "
                  f"| {first} |")


if __name__ == "__main__":
    main()
