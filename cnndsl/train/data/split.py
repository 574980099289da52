"""--val-split: a stratified, seeded hold-out of one folder of labelled images.

Every class keeps its share: round(F x its count) of its images (at least one
when it has two or more) go to validation, chosen by a permutation drawn from
--seed.  The samples are sorted by path first, so the same folder and seed
give the same split on every machine; the run records F and the seed in its
checkpoint (config), and --resume and `cnndsl eval` split again the same way."""

from __future__ import annotations

from cnndsl.train.errors import DataError


def stratified(labels: list[int], fraction: float, seed: int, where) -> tuple[list[int], list[int]]:
    """(train indices, val indices), each sorted."""
    import numpy as np
    labels = np.asarray(labels)
    rng = np.random.RandomState(seed)
    train, val = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        cut = int(round(len(members) * fraction))
        cut = min(max(cut, 1 if len(members) >= 2 else 0), len(members) - 1)
        val.extend(members[:cut].tolist())
        train.extend(members[cut:].tolist())
    if not val:
        raise DataError(f"--val-split {fraction} of {where} holds out no image",
                        hint="every class needs at least two images, or give a larger fraction")
    return sorted(train), sorted(val)
