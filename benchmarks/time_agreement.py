"""Does `cnndsl time` agree with a plain timed loop of the same module?

For each spec, in one process, alternating: an independent loop written here
(`out = model(x); out.backward(ones)`, timed with perf_counter, median), then
cnndsl's timing (cnndsl.profile.time_network) of the same module kind and batch.
It prints, per round, the independent loop's median just before and just after
cnndsl's run, cnndsl's whole-model figure and its sum of layers, and how far
each is from the mean of the two independent medians.
Goal (issue 7): the whole-model figure within 10%.

    python benchmarks/time_agreement.py [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cnndsl  # noqa: E402
from cnndsl.profile import TimeOptions, time_network  # noqa: E402

CASES = [("specs/lenet5.cnn", None, 64), ("specs/resnet18.cnn", "3x64x64", 4)]


def plain_loop_ms(model, x, iterations: int) -> float:
    times = []
    for _ in range(iterations):
        model.zero_grad(set_to_none=True)
        start = time.perf_counter()
        out = model(x)
        out.backward(torch.ones_like(out))
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("| spec | input | batch | plain loop ms (before / after) | cnndsl whole ms | diff | "
          "cnndsl sum of layers ms | diff |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    summary = {}
    for spec, size, batch in CASES:
        net = cnndsl.load(ROOT / spec, input=size)
        model = net.to_torch().train()
        x = torch.randn(batch, *net.input_shape)
        plain_loop_ms(model, x, 3)  # warm-up
        diffs = []
        for _ in range(args.rounds):
            before = plain_loop_ms(model, x, args.iterations)
            timing = time_network(net, TimeOptions(batch=batch, iterations=args.iterations,
                                                   warmup=3, threads=args.threads))
            after = plain_loop_ms(model, x, args.iterations)
            mine = (before + after) / 2  # brackets cnndsl's run, so slow drift cancels
            whole, layers = timing.plain.total_ms, timing.layer_sum.total_ms
            print(f"| {spec} | {'x'.join(map(str, net.input_shape))} | {batch} | "
                  f"{before:.1f} / {after:.1f} | "
                  f"{whole:.1f} | {100 * (whole / mine - 1):+.1f}% | {layers:.1f} | "
                  f"{100 * (layers / mine - 1):+.1f}% |", flush=True)
            diffs.append(100 * (whole / mine - 1))
        summary[spec] = statistics.median(diffs)
    for spec, diff in summary.items():
        print(f"{spec}: median difference of the whole-model figure over "
              f"{args.rounds} rounds {diff:+.1f}%")


if __name__ == "__main__":
    main()
