"""A small labeled two-class dataset for tests that pretrain or evaluate end to end."""

from __future__ import annotations

import numpy as np

import ecgssl

FS = 50.0
TINY = {"name": "multibranch", "width": 4, "per_lead_dim": 8}


def toy_dataset(
    n: int = 60, leads: int = 4, seed: int = 0, labels: bool = True
) -> ecgssl.ECGDataset:
    """Two classes that differ in rhythm (1 Hz vs 2 Hz) with random phase and noise, 4 s at
    50 Hz; half train, a quarter val, the rest test (``labels=False``: unlabeled)."""
    rng = np.random.default_rng(seed)
    t = np.arange(200) / FS
    y = rng.integers(0, 2, n)
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    x = np.sin(2 * np.pi * (1 + y[:, None, None]) * t + phase) + 0.2 * rng.normal(
        size=(n, leads, 200)
    )
    split = np.array(["train"] * (n // 2) + ["val"] * (n // 4) + ["test"] * (n - n // 2 - n // 4))
    return ecgssl.load_dataset(
        "arrays", signals=x, fs=FS, labels=y if labels else None, split=split
    )
