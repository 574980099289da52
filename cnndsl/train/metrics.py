"""DIR/metrics.csv (one row per epoch) and DIR/curves.png (loss and accuracy)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from cnndsl.files import write_atomic

COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "images_per_s", "seconds")


def write_csv(path: Path, rows: list[dict]) -> None:
    """Rewrite the whole file from `rows` (atomically): after a resume the file
    holds exactly the epochs the checkpoint knows, each once."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _format(row[key]) for key in COLUMNS})
    write_atomic(path, text.getvalue())


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def plot_curves(path: Path, rows: list[dict], title: str) -> None:
    """Loss (left) and accuracy (right) per epoch, train and validation."""
    if not rows:
        return
    # A Figure on the Agg canvas, without pyplot: pyplot's import (its backend
    # machinery) costs about half a second of every run and is never needed here.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
    epochs = [r["epoch"] for r in rows]
    fig = Figure(figsize=(10, 4))
    FigureCanvasAgg(fig)
    loss_ax, acc_ax = fig.subplots(1, 2)
    loss_ax.plot(epochs, [r["train_loss"] for r in rows], "o-", label="train")
    loss_ax.plot(epochs, [r["val_loss"] for r in rows], "o-", label="validation")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
    acc_ax.plot(epochs, [100 * r["train_acc"] for r in rows], "o-", label="train")
    acc_ax.plot(epochs, [100 * r["val_acc"] for r in rows], "o-", label="validation")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    fig.suptitle(title)
    fig.tight_layout()
    write_atomic(path, lambda temp: fig.savefig(temp, dpi=100, format="png"))
