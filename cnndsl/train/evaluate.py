"""`cnndsl eval`: accuracy and confusion matrix of a checkpoint on a data source's
held-out split."""

from __future__ import annotations

from pathlib import Path

import torch

from cnndsl.errors import SpecError
from cnndsl.escape import terminal
from cnndsl.train import checkpoint
from cnndsl.train.adapt import load_network
from cnndsl.analysis.allocation import check_allocation
from cnndsl.train.batches import EVAL_BATCH, Batches, Preprocess
from cnndsl.train.config import TrainConfig
from cnndsl.train.data import load_data
from cnndsl.train.device import runtime
from cnndsl.train.errors import CheckpointError, DataError


def evaluate(spec: str, weights: str, data_source: str | None = None, device: str = "auto",
             notes: list[str] | None = None, allow_large: bool = False) -> dict:
    """{"accuracy", "loss", "count", "classes", "confusion" (rows: true, cols: predicted)}."""
    notes = notes if notes is not None else []
    saved = checkpoint.load(weights, not_ours_hint="cnndsl eval needs a checkpoint written by "
                            "cnndsl train (its best.pt or last.pt)", notes=notes)
    config = TrainConfig.from_dict(saved["config"])
    net = _rebuild(spec, saved, weights)
    if saved.get("spec_sha256") != checkpoint.spec_hash(net.source):
        notes.append(f"note: {weights} was trained from a different version of {spec} "
                     f"({saved.get('spec_path')}); loading its weights by name")
    source = data_source or config.data
    # the run's own held-out split of one folder (--val-split), drawn again from its seed
    split = config.val_split if source == config.data else None
    data = load_data(source, net.input_shape, net.output_shape[0], config.seed, split)
    if data.channels != net.input_shape[0]:
        raise DataError(f"{spec} takes {net.input_shape[0]}-channel input, {data.source} has "
                        f"{data.channels}-channel images")
    if len(data.classes) != net.output_shape[0]:
        raise DataError(f"{weights} predicts {net.output_shape[0]} classes, "
                        f"{data.source} has {len(data.classes)}")
    rt = runtime(TrainConfig(spec=spec, device=device, compile=False, channels_last=False))
    check_allocation(net.graph, EVAL_BATCH, allow_large)
    model = net.to_torch()
    checkpoint.check_fits(model.state_dict(), saved, weights, spec)
    _refuse_non_finite(saved["model"], weights)
    model.load_state_dict(saved["model"])
    model.to(rt.device).eval()
    stats = saved.get("preprocess") or {}
    preprocess = Preprocess(data.scale, stats.get("mean", data.mean), stats.get("std", data.std),
                            tuple(net.input_shape[1:]))
    k = net.output_shape[0]
    confusion = torch.zeros(k, k, dtype=torch.long)
    loss_sum, top5 = 0.0, 0
    with torch.no_grad():
        for x, y in Batches(data.val, rt.device, preprocess).validation():
            with rt.autocast():
                logits = model(x).float()
            loss_sum += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
            if k > 5:
                top5 += int((logits.topk(5, 1).indices == y[:, None]).any(1).sum())
            pairs = y.cpu() * k + logits.argmax(1).cpu()
            confusion += torch.bincount(pairs, minlength=k * k).view(k, k)
    count = int(confusion.sum())
    extra = {"top5_accuracy": top5 / max(count, 1)} if k > 5 else {}
    return {"spec": spec, "weights": str(weights), "data": data.source, "count": count,
            "accuracy": float(confusion.diag().sum()) / max(count, 1), **extra,
            "loss": loss_sum / max(count, 1), "classes": list(data.classes),
            "confusion": confusion.tolist()}


def _rebuild(spec: str, saved: dict, weights: str):
    """The network `spec` describes, with the checkpoint's input shape and parameters."""
    try:
        return load_network(spec, "x".join(map(str, saved["input"])), saved.get("params") or {})
    except SpecError as exc:
        trained_from = saved.get("spec_path")
        if trained_from is None or Path(trained_from).resolve() == Path(spec).resolve():
            raise
        # e.g. "unknown parameter 'classes'": the real cause is the other spec
        raise CheckpointError(
            f"{weights} was trained from another spec ({saved['spec_path']}); {spec} cannot be "
            f"built with its input and parameters: {exc.message}",
            hint=f"evaluate it with the spec it was trained from: {saved['spec_path']}") from None


def _refuse_non_finite(state: dict, weights: str) -> None:
    """A network with NaN or infinite weights has no accuracy to report (and its
    loss would be NaN, which JSON cannot hold): say which tensors, and stop."""
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"{weights} holds NaN or infinite values in {len(bad)} tensor"
                              f"{'s' * (len(bad) > 1)} ({', '.join(bad[:3])}"
                              f"{', ...' if len(bad) > 3 else ''}): there is no accuracy to "
                              f"measure", hint="evaluate an earlier checkpoint (best.pt)")


def render(result: dict) -> str:
    """The accuracy line, per-class recall and the confusion matrix as text; class
    names come from the data (folder names, CIFAR's label_names) and are escaped."""
    names = [terminal(c, keep="") for c in result["classes"]]
    width = max(5, max(len(n) for n in names),
                max(len(str(v)) for row in result["confusion"] for v in row))
    top5 = (f", top-5 {100 * result['top5_accuracy']:.2f}%" if "top5_accuracy" in result
            else "")
    lines = [f"{terminal(result['data'])}: {result['count']} images, accuracy "
             f"{100 * result['accuracy']:.2f}%{top5}, loss {result['loss']:.4f}",
             "", "confusion matrix (rows: true class, columns: predicted)",
             " " * width + " " + " ".join(n[:width].rjust(width) for n in names) + "  recall"]
    for k, (name, row) in enumerate(zip(names, result["confusion"])):
        total = sum(row)
        recall = row[k] / total if total else float("nan")
        lines.append(name[:width].rjust(width) + " " + " ".join(str(v).rjust(width) for v in row)
                     + f"  {100 * recall:5.1f}%")
    return "\n".join(lines)
