"""The method-comparison runner: registry-driven, baseline always reported, table format."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

import ecgssl

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "compare_methods.py"
_spec = importlib.util.spec_from_file_location("compare_methods", _PATH)
assert _spec is not None and _spec.loader is not None
compare = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare)


def toy_dataset(n: int = 40) -> ecgssl.ECGDataset:
    rng = np.random.default_rng(0)
    t = np.arange(160) / 50.0
    y = np.arange(n) % 2
    x = np.sin(2 * np.pi * (1 + y[:, None, None]) * t) + 0.3 * rng.normal(size=(n, 3, 160))
    split = np.array(["train"] * (n // 2) + ["val"] * (n // 4) + ["test"] * (n // 4))
    return ecgssl.load_dataset("arrays", signals=x, fs=50.0, labels=y, split=split)


def test_runner_scores_methods_and_the_random_baseline():
    rows = compare.run_comparison(
        toy_dataset(), methods=["simclr", "clocs"], seeds=(0,), label_fractions=(1.0,),
        encoder={"name": "multibranch", "width": 4, "per_lead_dim": 8}, device="cpu",
        epochs=1, batch_size=8, progress=False, window_seconds=2.5,
    )  # fmt: skip
    assert [r["method"] for r in rows] == ["simclr", "clocs", compare.BASELINE]
    assert all(0.0 <= r["macro_auroc"] <= 1.0 for r in rows)


def test_markdown_table_averages_over_seeds():
    rows = [
        {"method": "a", "seed": s, "label_fraction": f, "macro_auroc": v, "minutes": 1.0}
        for s, f, v in [(0, 0.1, 0.6), (1, 0.1, 0.8), (0, 1.0, 0.9), (1, 1.0, 0.9)]
    ]
    table = compare.markdown_table(rows)
    assert "| method | 10% labels | 100% labels | minutes |" in table
    assert "| a | 0.700 ± 0.141 | 0.900 ± 0.000 | 1.00 |" in table
