"""Seeded label-fraction sampling that keeps every class represented."""

from __future__ import annotations

import math

import numpy as np

from ecgssl.validation import check_in_range

__all__ = ["label_fraction_indices"]


def label_fraction_indices(labels: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """Indices of a random ``fraction`` of the records, with every class kept where possible.

    Classes are visited from rarest to most frequent and one positive record of each class
    not yet covered is taken first; the rest of the budget is filled at random. The result
    is sorted and deterministic for a given seed.

    Args:
        labels: Multi-hot labels (records, classes).
        fraction: Fraction of records to keep, in (0, 1].
        seed: Random seed.

    Raises:
        ValueError: ``fraction`` outside (0, 1].
    """
    check_in_range(fraction, "label_fraction", 0.0, 1.0)
    if fraction <= 0:
        raise ValueError(f"label_fraction must be in (0, 1], got {fraction}")
    n = labels.shape[0]
    if fraction >= 1.0:
        return np.arange(n)
    budget = max(1, math.ceil(fraction * n))
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    chosen: list[int] = []
    taken = np.zeros(n, dtype=bool)
    counts = labels.sum(axis=0)
    for c in np.argsort(counts, kind="stable"):
        if len(chosen) >= budget or counts[c] == 0 or labels[chosen, c].any():
            continue
        pos = order[labels[order, c] > 0]
        chosen.append(int(pos[0]))
        taken[pos[0]] = True
    rest = order[~taken[order]][: max(0, budget - len(chosen))]
    return np.sort(np.concatenate([np.asarray(chosen, dtype=int), rest]))
