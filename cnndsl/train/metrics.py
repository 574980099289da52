"""DIR/metrics.csv (one row per epoch) and DIR/curves.png (loss and accuracy)."""

from __future__ import annotations

import contextlib
import csv
import os
from pathlib import Path

from cnndsl.train.errors import cannot_write

COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "images_per_s", "seconds")


def write_csv(path: Path, rows: list[dict]) -> None:
    """Rewrite the whole file from `rows` (atomically): after a resume the file
    holds exactly the epochs the checkpoint knows, each once."""
    temp = path.with_name(f".{path.name}.tmp")
    try:
        with open(temp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({key: _format(row[key]) for key in COLUMNS})
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):  # the write failed; the temporary may not exist
            temp.unlink()
        raise cannot_write(path, exc) from None


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
    import matplotlib
    matplotlib.use("Agg")  # no display needed, never opens a window
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    epochs = [r["epoch"] for r in rows]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
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
    temp = path.with_name(f".{path.name}.tmp.png")
    try:
        fig.savefig(temp, dpi=100)
        os.replace(temp, path)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    finally:
        plt.close(fig)
