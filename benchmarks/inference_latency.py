"""CPU latency of cnndsl's inference build against torchvision's model, eager.

For each network (ResNet-18, ResNet-50) and batch size (1, 8): torchvision's
model in eval mode under torch.inference_mode, and the cnndsl inference build
(`net.to_torch(inference=True, weights=...)`: batch norm folded, activations
in place) holding torchvision's weights, so both compute the same function
(checked before timing).  Runs alternate, round by round, on the same threads;
each round times `--iters` calls after a warm-up and the median over rounds is
reported, with the ratio torchvision / cnndsl (above 1: cnndsl is faster).
`--channels-last` adds both models with channels_last weights; `--compile` adds
torch.compile of torchvision's model (minutes to compile on a small CPU).

    python benchmarks/inference_latency.py [--rounds 5] [--iters 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torchvision

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cnndsl  # noqa: E402

NETWORKS = {"resnet18": torchvision.models.resnet18, "resnet50": torchvision.models.resnet50}


def per_call(model, x, iters: int) -> float:
    with torch.inference_mode():
        start = time.perf_counter()
        for _ in range(iters):
            model(x)
        return (time.perf_counter() - start) / iters


def contenders(name: str, args) -> dict:
    reference = NETWORKS[name]().eval()
    net = cnndsl.load(ROOT / "specs" / f"{name}.cnn")
    ours = net.to_torch(inference=True, weights=reference.state_dict(), channels_last=False)
    models = {"torchvision eager": reference, "cnndsl inference": ours}
    if args.channels_last:  # the layout on both sides, so that it is not the difference
        models["torchvision eager, channels_last"] = NETWORKS[name]().eval().to(
            memory_format=torch.channels_last)
        models["torchvision eager, channels_last"].load_state_dict(reference.state_dict())
        models["cnndsl inference, channels_last"] = net.to_torch(  # the default
            inference=True, weights=reference.state_dict())
    if args.compile:
        compiled = NETWORKS[name]().eval()
        compiled.load_state_dict(reference.state_dict())
        models["torchvision compiled"] = torch.compile(compiled)
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS))
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} cores, "
          f"{args.threads} threads; torch {torch.__version__}, torchvision "
          f"{torchvision.__version__}; load average before {os.getloadavg()[0]:.2f}")
    for name in args.networks:
        models = contenders(name, args)
        for batch in args.batches:
            x = torch.randn(batch, 3, 224, 224)
            with torch.inference_mode():
                want = models["torchvision eager"](x)
                for label, model in models.items():
                    for _ in range(2):  # warm-up (and compilation)
                        got = model(x)
                    error = (got - want).abs().max().item() / want.abs().max().item()
                    assert error < 1e-4, (label, error)
            times: dict[str, list[float]] = {label: [] for label in models}
            for _ in range(args.rounds):
                for label, model in models.items():
                    times[label].append(per_call(model, x, args.iters))
            base = statistics.median(times["torchvision eager"])
            for label, values in times.items():
                median = statistics.median(values)
                print(f"{name} batch {batch:>2}  {label:<34} {1000 * median:8.2f} ms/call  "
                      f"torchvision eager / this: {base / median:.3f}x", flush=True)


if __name__ == "__main__":
    main()
