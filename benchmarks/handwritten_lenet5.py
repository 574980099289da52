"""LeNet-5 on scikit-learn's digits, written by hand in plain PyTorch (no cnndsl).

The reference that benchmarks/train_vs_handwritten.py times `cnndsl train
specs/lenet5.cnn` against.  It does the same work as cnndsl's defaults, the
way a person would write it: the digits as tensors, a stratified 20% held-out
split, upsampling to 28x28 and normalisation (once, up front), random shifts of up to
2 pixels, AdamW 2e-3 (weight decay 0.01 on weights only), batch 64, a linear
warm-up over 15% of the steps then a cosine decay, label smoothing 0.1, 10
epochs, validation after every epoch.  It writes nothing: no checkpoints, no
metrics file, no plot (cnndsl writes all three), and prints the final
validation accuracy.

    python benchmarks/handwritten_lenet5.py [--epochs 10] [--seed 0]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits
    bunch = load_digits()
    x = torch.from_numpy(bunch.data.reshape(-1, 1, 8, 8).astype(np.float32)) / 16.0
    return x, torch.from_numpy(bunch.target.astype(np.int64))


def split(labels: torch.Tensor, fraction: float = 0.2, seed: int = 0):
    rng = np.random.RandomState(seed)
    train, val = [], []
    for label in labels.unique().tolist():
        members = rng.permutation(np.flatnonzero(labels.numpy() == label))
        cut = int(round(len(members) * fraction))
        val.extend(members[:cut])
        train.extend(members[cut:])
    return torch.tensor(sorted(train)), torch.tensor(sorted(val))


def lenet5() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 20, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(20, 50, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2450, 500), nn.ReLU(), nn.Linear(500, 10))


def shift(x: torch.Tensor, generator: torch.Generator, pad: int = 2) -> torch.Tensor:
    """Translate each image by a random (dy, dx) in [-pad, pad], repeating the edge."""
    n, _, h, w = x.shape
    d = torch.randint(-pad, pad + 1, (n, 2), generator=generator)
    rows = (torch.arange(h).view(1, h) - d[:, :1]).clamp(0, h - 1)
    cols = (torch.arange(w).view(1, w) - d[:, 1:]).clamp(0, w - 1)
    batch = torch.arange(n).view(n, 1, 1)
    return x.permute(0, 2, 3, 1)[batch, rows.view(n, h, 1), cols.view(n, 1, w)].permute(0, 3, 1, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    images, labels = digits()
    train_idx, val_idx = split(labels)
    mean, std = images[train_idx].mean(), images[train_idx].std()

    # upsampled and normalised once, up front: the whole set is 11 MB at 28x28
    inputs = (F.interpolate(images, size=(28, 28), mode="bilinear", align_corners=False) - mean) / std

    model = lenet5()
    decay = [p for p in model.parameters() if p.ndim >= 2]
    rest = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                   {"params": rest, "weight_decay": 0.0}], lr=2e-3)
    steps = len(train_idx) // 64
    total, warmup = steps * args.epochs, max(1, int(0.15 * steps * args.epochs))

    def factor(step):
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    generator = torch.Generator().manual_seed(args.seed)
    accuracy = 0.0
    for epoch in range(args.epochs):
        model.train()
        order = train_idx[torch.randperm(len(train_idx), generator=generator)]
        for k in range(steps):
            batch = order[k * 64:(k + 1) * 64]
            x = shift(inputs[batch], generator)
            loss = F.cross_entropy(model(x), labels[batch], label_smoothing=0.1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(inputs[b]).argmax(1) == labels[b]).sum())
                          for b in val_idx.split(256))
        accuracy = correct / len(val_idx)
        print(f"epoch {epoch + 1}/{args.epochs}: validation accuracy {100 * accuracy:.2f}%")
    print(f"final validation accuracy {100 * accuracy:.2f}%")


if __name__ == "__main__":
    main()
