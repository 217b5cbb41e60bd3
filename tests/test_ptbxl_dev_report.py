"""benchmarks/ptbxl_dev_report.py: the fold-9 tables pair each seed with its own baseline."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from ecgssl.evaluation import macro_auroc

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "ptbxl_dev_report.py"


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("ptbxl_dev_report", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scores(rng, y, quality):
    return y * quality + rng.normal(size=y.shape)


def test_tables_pair_seeds_with_their_baselines(report, tmp_path):
    rng = np.random.default_rng(0)
    y = (rng.random((80, 3)) < 0.4).astype(float)
    rows = {"good": [], "plain": []}
    for tag, quality in (("good", 2.0), ("plain", 0.5)):
        for seed in (0, 1):
            arrays = {"ssl/y_test": y}
            for ls in range(2):
                arrays[f"ssl/linear@0.1/label_seed{ls}"] = _scores(rng, y, quality)
                arrays[f"random/linear@0.1/label_seed{ls}"] = _scores(rng, y, 0.5)
            np.savez(tmp_path / f"{tag}_s{seed}.npz", **arrays)
            rows[tag].append({"tag": tag, "seed": seed, "steps": 10, "pretrain_seconds": 60.0})
    # The BN baseline exists for both seeds: it is scored for both tags.
    for seed in (0, 1):
        np.savez(tmp_path / f"random_bn_s{seed}.npz",
                 **{f"random_bn/linear@0.1/label_seed{ls}": _scores(rng, y, 1.0)
                    for ls in range(2)})  # fmt: skip
    plain = report.report_table(rows, tmp_path, "random", n_boot=200)
    lines = [line for line in plain.splitlines() if line.startswith("| good")]
    assert len(lines) == 1
    cells = [c.strip() for c in lines[0].strip("|").split("|")]
    f = [np.load(tmp_path / f"good_s{s}.npz") for s in (0, 1)]
    ssl = np.mean([macro_auroc(y, g[f"ssl/linear@0.1/label_seed{ls}"]) for g in f for ls in (0, 1)])
    rnd = np.mean(
        [macro_auroc(y, g[f"random/linear@0.1/label_seed{ls}"]) for g in f for ls in (0, 1)]
    )
    assert cells[4] == "linear@0.1" and float(cells[5]) == pytest.approx(ssl, abs=1e-4)
    assert float(cells[6]) == pytest.approx(rnd, abs=1e-4)
    assert float(cells[7]) == pytest.approx(ssl - rnd, abs=1e-4)
    lo, hi = (float(v) for v in cells[8].strip("[]").split(","))
    assert lo < ssl - rnd < hi
    bn = report.report_table(rows, tmp_path, "random_bn", n_boot=200)
    assert "random init, BN from data" in bn and bn.count("| good |") == 1
    # A tag whose seeds lack the BN baseline is left out; none having it gives "".
    (tmp_path / "random_bn_s1.npz").unlink()
    assert report.report_table(rows, tmp_path, "random_bn", n_boot=200) == ""


def test_dev_table_one_line_per_row_naming_other_seeds(report):
    base = {"mode": "dev", "method": "bell", "steps": 1000, "batch_size": 64, "lr": 1e-3,
            "hce": False, "strength": "default", "method_options": {"var_weight": 4},
            "encoder_options": {}, "pretrain_seconds": 700.0, "ssl/linear_val@0.1": 0.9,
            "random/linear_val@0.1": 0.85, "gain/linear_val@0.1": 0.05, "final_loss": 4.0}  # fmt: skip
    rows = [{**base, "tag": "vc", "seed": 0}, {**base, "tag": "vc", "seed": 2},
            {**base, "tag": "skip", "mode": "report"}]  # fmt: skip
    lines = report.dev_table(rows).splitlines()
    assert len(lines) == 4
    assert lines[2].startswith(
        "| vc | bell | 1000 x 64 | var_weight=4 | 700 | 0.9000 | 0.8500 | +0.0500 |"
    )
    assert lines[3].startswith("| vc (seed 2) | bell |")


def test_cells_go_to_csv_and_plot(report, tmp_path):
    """Every cell of both baselines is one CSV row with the numbers of the table; the plot is
    drawn where matplotlib is installed."""
    import csv

    rng = np.random.default_rng(1)
    y = (rng.random((60, 3)) < 0.4).astype(float)
    arrays = {"ssl/y_test": y}
    for cell in ("linear@0.1", "finetune@0.1"):
        arrays[f"ssl/{cell}/label_seed0"] = _scores(rng, y, 2.0)
        arrays[f"random/{cell}/label_seed0"] = _scores(rng, y, 0.5)
    np.savez(tmp_path / "good_s0.npz", **arrays)
    np.savez(tmp_path / "random_bn_s0.npz",
             **{"random_bn/linear@0.1/label_seed0": _scores(rng, y, 1.0)})  # fmt: skip
    rows = {"good": [{"tag": "good", "method": "bell", "seed": 0, "steps": 10,
                      "pretrain_seconds": 60.0}]}  # fmt: skip
    cells = report.report_cells(rows, tmp_path, "random", n_boot=100)
    bn = report.report_cells(rows, tmp_path, "random_bn", n_boot=100)
    assert [c["cell"] for c in cells] == ["finetune@0.1", "linear@0.1"] and len(bn) == 1
    table = report.report_table(rows, tmp_path, "random", 100, cells)
    assert f"{cells[1]['gain']:+.4f}" in table.splitlines()[3]
    report.write_csv(cells + bn, tmp_path / "results.csv")
    with open(tmp_path / "results.csv") as f:
        saved = list(csv.DictReader(f))
    assert [(r["baseline"], r["protocol"], r["label_fraction"]) for r in saved] == [
        ("random", "finetune", "0.100000"), ("random", "linear", "0.100000"),
        ("random_bn", "linear", "0.100000"),
    ]  # fmt: skip
    for r, c in zip(saved, cells + bn):
        assert float(r["gain"]) == pytest.approx(c["gain"], abs=1e-6)
        assert float(r["ci_low"]) <= float(r["gain"]) <= float(r["ci_high"])
        assert float(r["gain"]) == pytest.approx(
            float(r["pretrained"]) - float(r["random"]), abs=1e-5
        )
    pytest.importorskip("matplotlib")
    assert report.plot_gains(cells + bn, tmp_path / "gains.png")
    assert (tmp_path / "gains.png").stat().st_size > 1000
