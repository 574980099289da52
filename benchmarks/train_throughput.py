"""Training throughput on a GPU: cnndsl's resnet50 against torchvision's, same loop.

Both models run through cnndsl.train.loop.train (the loop `cnndsl train`
uses) on `--data synthetic` kept on the device, with the same settings; the
only difference is where the nn.Module comes from (`Network.to_torch()` or
`torchvision.models.resnet50`).  Each configuration is timed for both models
in the same process, alternating, and the last epoch's images/s (after
torch.compile has warmed up in the first) is reported.

    python benchmarks/train_throughput.py [--spec specs/resnet50.cnn] [--batch-size 256]

The issue's goal: cnndsl / torchvision >= 1.0 in every configuration, and the
default configuration (bf16 autocast, channels_last, torch.compile) at least
as fast as torchvision's best.  Needs CUDA; on a CPU it refuses to run.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name -> TrainConfig overrides; None fields mean cnndsl's defaults on CUDA
CONFIGS = {
    "default (bf16, channels_last, compile)": {},
    "bf16, channels_last, eager": {"compile": False},
    "bf16, NCHW, eager": {"compile": False, "channels_last": False},
    "fp32 (TF32), NCHW, eager": {"compile": False, "channels_last": False, "amp": False},
}


def run(spec: Path, model: str, overrides: dict, batch: int, steps: int, epochs: int) -> float:
    import torch
    import torchvision

    from cnndsl.train.config import TrainConfig
    from cnndsl.train.loop import train
    build = None
    if model == "torchvision":
        def build(net):
            return torchvision.models.resnet50(num_classes=net.output_shape[0])
    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig(spec=str(spec), data=f"synthetic:{batch * steps}", epochs=epochs,
                             batch_size=batch, device="cuda", out=out, optimizer="sgd",
                             augment=False, **overrides)
        train(config, fancy=False, build_model=build)
        with open(Path(out) / "metrics.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
    torch.cuda.empty_cache()
    return float(rows[-1]["images_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=ROOT / "specs" / "resnet50.cnn")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=60, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=2, help="the last one is measured")
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    args = parser.parse_args()
    import torch
    if not torch.cuda.is_available():
        raise SystemExit("train_throughput.py needs a CUDA GPU")
    print(f"device: {torch.cuda.get_device_name()}; torch {torch.__version__}; "
          f"batch {args.batch_size}, {args.steps} steps/epoch, epoch {args.epochs} measured")
    print(f"{'configuration':<42} {'cnndsl img/s':>13} {'torchvision img/s':>18} {'ratio':>6}")
    for name in args.configs:
        ours = run(args.spec, "cnndsl", CONFIGS[name], args.batch_size, args.steps, args.epochs)
        theirs = run(args.spec, "torchvision", CONFIGS[name], args.batch_size, args.steps, args.epochs)
        print(f"{name:<42} {ours:13,.0f} {theirs:18,.0f} {ours / theirs:6.2f}", flush=True)


if __name__ == "__main__":
    main()
