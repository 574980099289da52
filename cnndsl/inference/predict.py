"""`cnndsl predict`: the top-k classes of each image, as a table, JSON or CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnndsl.inference.images import read_image
from cnndsl.inference.runners import Runner

BATCH = 64


def network_input(pixels: np.ndarray, runner: Runner) -> np.ndarray:
    """A batch of raw pixels (N, C, H, W) as the runner takes it: normalised,
    unless its graph does that itself."""
    prep = runner.preprocessing
    if prep.baked:
        return pixels.astype(np.float32)
    mean, std = (np.asarray(v, dtype=np.float32).reshape(1, -1, 1, 1) for v in prep.per_channel())
    return ((pixels * np.float32(prep.scale) - mean) / std).astype(np.float32)


def predict(files: list[Path], runner: Runner, top: int) -> list[dict]:
    """[{"input", "predictions": [{"class", "index", "probability"}, ...top]}] per file."""
    prep = runner.preprocessing
    results = []
    for start in range(0, len(files), BATCH):
        chunk = files[start:start + BATCH]
        pixels = np.stack([read_image(f, prep.channels, prep.size) for f in chunk])
        logits = np.asarray(runner.run(network_input(pixels, runner)), dtype=np.float64)
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
        for path, row in zip(chunk, probabilities):
            order = np.argsort(-row, kind="stable")[:top]
            results.append({"input": str(path), "predictions": [
                {"class": prep.classes[k], "index": int(k), "probability": float(row[k])}
                for k in order]})
    return results


def render_table(results: list[dict]) -> str:
    from cnndsl.escape import terminal
    width = max([5] + [len(terminal(r["input"])) for r in results])
    lines = [f"{'image'.ljust(width)}  top classes (probability)"]
    for r in results:
        guesses = ", ".join(f"{terminal(p['class'], keep='')} ({100 * p['probability']:.1f}%)"
                            for p in r["predictions"])
        lines.append(f"{terminal(r['input']).ljust(width)}  {guesses}")
    return "\n".join(lines)


def render_csv(results: list[dict]) -> str:
    import csv
    import io
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["input", "rank", "class", "index", "probability"])
    for r in results:
        for rank, p in enumerate(r["predictions"], 1):
            writer.writerow([r["input"], rank, p["class"], p["index"], f"{p['probability']:.6f}"])
    return out.getvalue().rstrip("\n")
