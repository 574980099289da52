"""Throughput of cnndsl's generated ResNets against torchvision's, on a GPU.

    python benchmarks/torch_throughput.py                      # the full run (CUDA)
    python benchmarks/torch_throughput.py --device cpu --batch 2 --size 64 --steps 1 \
        --warmup 1 --configs fp32,bf16                          # a smoke test of the logic

For ResNet-50 and ResNet-34 (specs/*.cnn vs torchvision.models), synthetic data
already on the device, batch 256 at 224x224 by default, it measures training
(forward, cross-entropy, backward, SGD step) and inference (no_grad forward)
images per second in four configurations: fp32; bf16 autocast; bf16 +
channels_last; bf16 + channels_last + torch.compile.  It prints one table row per
(model, configuration, mode) with both throughputs and their ratio
(cnndsl / torchvision; the goal is >= 1.0).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torchvision

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cnndsl  # noqa: E402

CONFIGS = {  # name -> (autocast bf16, channels_last, torch.compile)
    "fp32": (False, False, False),
    "bf16": (True, False, False),
    "bf16+cl": (True, True, False),
    "bf16+cl+compile": (True, True, True),
}


def _models(name: str, size: int):
    net = cnndsl.load(ROOT / "specs" / f"{name}.cnn", input=f"3x{size}x{size}")
    return {"torchvision": getattr(torchvision.models, name)(), "cnndsl": net.to_torch()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(model, config: str, mode: str, device, batch: int, size: int, steps: int,
            warmup: int) -> float:
    """Images per second for one model, configuration and mode."""
    bf16, channels_last, compiled = CONFIGS[config]
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format).train(mode == "train")
    x = torch.randn(batch, 3, size, size, device=device).to(memory_format=memory_format)
    y = torch.randint(0, 1000, (batch,), device=device)
    run = torch.compile(model) if compiled else model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            if mode == "train":
                loss = torch.nn.functional.cross_entropy(run(x), y)
            else:
                with torch.no_grad():
                    run(x)
                return
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return batch * steps / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--models", default="resnet50,resnet34")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--modes", default="train,inference")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA device; pass --device cpu for a smoke test")
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 for both models
    torch.backends.cudnn.allow_tf32 = False
    print(f"device: {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}, "
          f"torch {torch.__version__}, batch {args.batch}, {args.size}x{args.size}")
    print(f"{'model':10} {'config':16} {'mode':10} {'torchvision':>12} {'cnndsl':>12} "
          f"{'ratio':>6}")
    results = []
    for name in args.models.split(","):
        for config in args.configs.split(","):
            for mode in args.modes.split(","):
                torch._dynamo.reset()
                speeds = {impl: measure(model, config, mode, device, args.batch, args.size,
                                        args.steps, args.warmup)
                          for impl, model in _models(name, args.size).items()}
                ratio = speeds["cnndsl"] / speeds["torchvision"]
                results.append({"model": name, "config": config, "mode": mode, **speeds,
                                "ratio": ratio})
                print(f"{name:10} {config:16} {mode:10} {speeds['torchvision']:12,.0f} "
                      f"{speeds['cnndsl']:12,.0f} {ratio:6.3f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
