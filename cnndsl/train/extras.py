"""Per-epoch additions to the loop, kept out of it: --patience (early stopping)
and --log tensorboard (scalars beside metrics.csv)."""

from __future__ import annotations

from pathlib import Path

from cnndsl.train.errors import TrainError


def early_stop(history: list[dict], patience: int | None) -> str | None:
    """The note to stop on when validation accuracy has not improved for
    `patience` epochs (None: go on).  best.pt already holds the best epoch."""
    if not patience or not history:
        return None
    best = max(range(len(history)), key=lambda k: history[k]["val_acc"])  # first best
    waited = len(history) - 1 - best
    if waited < patience:
        return None
    return (f"early stop after epoch {history[-1]['epoch']}: validation accuracy has not "
            f"improved for {waited} epochs (--patience {patience}); best.pt is epoch "
            f"{history[best]['epoch']}")


def open_logger(config, out: Path):
    """A TensorBoard SummaryWriter in DIR/tensorboard for --log tensorboard, else None."""
    if config.log != "tensorboard":
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise TrainError("--log tensorboard needs the tensorboard package",
                         hint="pip install tensorboard (or cnndsl[tensorboard])") from None
    return SummaryWriter(log_dir=str(out / "tensorboard"))


# metrics row key -> TensorBoard tag
TAGS = {"train_loss": "loss/train", "val_loss": "loss/val", "train_acc": "accuracy/train",
        "val_acc": "accuracy/val", "val_top5": "accuracy/val_top5", "lr": "lr",
        "images_per_s": "throughput/images_per_s"}


def log_epoch(logger, row: dict) -> None:
    if logger is None:
        return
    for key, tag in TAGS.items():
        if key in row:
            logger.add_scalar(tag, row[key], row["epoch"])
    logger.flush()


def close_logger(logger) -> None:
    if logger is not None:
        logger.close()
