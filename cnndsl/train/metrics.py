"""DIR/metrics.csv (one row per epoch) and DIR/curves.png (loss and accuracy)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from cnndsl.files import write_atomic

COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "images_per_s", "seconds")
# columns a row has only sometimes: top-5 accuracy when there are more than 5 classes
OPTIONAL = ("val_top5",)


def write_csv(path: Path, rows: list[dict]) -> None:
    """Rewrite the whole file from `rows` (atomically): after a resume the file
    holds exactly the epochs the checkpoint knows, each once."""
    text = io.StringIO(newline="")
    columns = COLUMNS + tuple(k for k in OPTIONAL if rows and all(k in r for r in rows))
    # then each output's own training loss, for networks with output heads (heads.py)
    columns += tuple(key for row in rows[:1] for key in row if key.startswith("train_loss_"))
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _format(row[key]) for key in columns})
    write_atomic(path, text.getvalue())


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _readable_epochs(ax, epochs: list[int]) -> None:
    """A few epochs (one, after a 1-epoch run) get whole-number ticks, a margin of
    half an epoch, and their values written beside the points; matplotlib would
    otherwise span 0.945..1.055 around a lone point."""
    if len(epochs) > 3:
        return
    ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
    ax.set_xticks(epochs)
    for line in ax.get_lines():
        for x, y in zip(line.get_xdata(), line.get_ydata()):
            ax.annotate(f"{y:.3g}", (x, y), textcoords="offset points", xytext=(8, 0),
                        va="center", fontsize=8, color=line.get_color())
    low, high = ax.get_ylim()
    if ax.get_ylabel() == "loss":  # a lone point's range is tiny: start the axis at 0
        ax.set_ylim(0, max(high, 1e-3) * 1.1)


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
    if all("val_top5" in r for r in rows):
        acc_ax.plot(epochs, [100 * r["val_top5"] for r in rows], "o--", label="validation top-5")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy", ylim=(0, 100))
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        _readable_epochs(ax, epochs)
    fig.suptitle(title)
    fig.tight_layout()
    write_atomic(path, lambda temp: fig.savefig(temp, dpi=100, format="png"))
