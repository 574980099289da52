"""ONNX Runtime CPU latency: cnndsl's folded ResNet-50 export against
torch.onnx.export of torchvision's resnet50, in the same process, at the same
batch size, with the same session options.  Runs alternate between the two
models so that machine noise hits both alike.

    python benchmarks/onnx_latency.py [--batch 1] [--runs 50] [--spec specs/resnet50.cnn]

Weights do not affect latency, so both models use fresh initial weights.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def export_ours(spec: str, path: Path, opset: int) -> None:
    import cnndsl
    cnndsl.load(spec).to_onnx(path, fold_bn=True, opset=opset)


def export_torchvision(model_name: str, path: Path, batch: int, opset: int) -> None:
    import torch
    import torchvision
    model = getattr(torchvision.models, model_name)(weights=None).eval()
    x = torch.randn(batch, 3, 224, 224)
    kwargs = dict(input_names=["input"], output_names=["output"], opset_version=opset,
                  dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    try:  # the TorchScript exporter: no onnxscript needed
        torch.onnx.export(model, (x,), str(path), dynamo=False, **kwargs)
    except TypeError:  # older torch without the dynamo switch
        torch.onnx.export(model, (x,), str(path), **kwargs)


def measure(sessions: dict, x: np.ndarray, runs: int, warmup: int) -> dict[str, list[float]]:
    times = {name: [] for name in sessions}
    for i in range(warmup + runs):
        for name, session in sessions.items():
            start = time.perf_counter()
            session.run(None, {session.get_inputs()[0].name: x})
            if i >= warmup:
                times[name].append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="specs/resnet50.cnn")
    parser.add_argument("--torchvision", default="resnet50", help="torchvision model to compare")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: ORT's choice)")
    parser.add_argument("--optimisation", choices=("off", "basic", "extended", "all"), default="all",
                        help="ORT graph optimisation level for both sessions (ORT's default: all); "
                             "off shows what our folding alone does")
    args = parser.parse_args()

    import onnxruntime as ort
    with tempfile.TemporaryDirectory() as tmp:
        ours, theirs = Path(tmp) / "cnndsl.onnx", Path(tmp) / "torchvision.onnx"
        export_ours(args.spec, ours, args.opset)
        export_torchvision(args.torchvision, theirs, args.batch, args.opset)
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        level = ort.GraphOptimizationLevel
        options.graph_optimization_level = {"off": level.ORT_DISABLE_ALL, "basic": level.ORT_ENABLE_BASIC,
                                            "extended": level.ORT_ENABLE_EXTENDED,
                                            "all": level.ORT_ENABLE_ALL}[args.optimisation]
        sessions = {
            f"cnndsl {Path(args.spec).stem} (folded)":
                ort.InferenceSession(str(ours), options, providers=["CPUExecutionProvider"]),
            f"torch.onnx.export torchvision {args.torchvision}":
                ort.InferenceSession(str(theirs), options, providers=["CPUExecutionProvider"]),
        }
        x = np.random.default_rng(0).standard_normal((args.batch, 3, 224, 224), np.float32)
        times = measure(sessions, x, args.runs, args.warmup)

    print(f"onnxruntime {ort.__version__}, batch {args.batch}, {args.runs} runs "
          f"after {args.warmup} warm-up, opset {args.opset}, graph optimisation {args.optimisation}")
    print(f"{'model':48} {'median ms':>10} {'p90 ms':>8} {'min ms':>8}")
    medians = []
    for name, ms in times.items():
        p90 = float(np.percentile(ms, 90))
        medians.append(statistics.median(ms))
        print(f"{name:48} {medians[-1]:10.2f} {p90:8.2f} {min(ms):8.2f}")
    print(f"ratio cnndsl / torchvision (median): {medians[0] / medians[1]:.3f}")


if __name__ == "__main__":
    main()
