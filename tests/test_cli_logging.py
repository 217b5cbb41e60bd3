"""``ecgssl pretrain --out``: run logs that grow while training runs, TensorBoard events and
the online monitor's AUROC in them."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from ecgssl.cli import main
from ecgssl.training.loggers import CSVLogger

ENCODER = json.dumps({"name": "multibranch", "width": 4, "per_lead_dim": 8})


def labelled_archive(path):
    """48 records in folds 1-8 (train 1-6, val 7, test 8), two rhythm classes in every fold."""
    rng = np.random.default_rng(0)
    n, t = 48, np.arange(200) / 50.0
    y = np.arange(n) % 2
    x = np.sin(2 * np.pi * (1 + y[:, None, None]) * t + rng.uniform(0, 6.3, (n, 1, 1)))
    x = (x + 0.2 * rng.normal(size=(n, 3, 200))).astype(np.float32)
    np.savez(path, X=x, y=y, strat_fold=np.repeat(np.arange(1, 9), 6), fs=50.0,
             leads=np.array(["I", "II", "V1"]))  # fmt: skip
    return path


def test_pretrain_out_writes_growing_logs_and_monitor(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    snapshots = []
    on_epoch = CSVLogger.on_epoch

    def read_logs_after(self, run, row):  # the files as a reader sees them mid-run
        on_epoch(self, run, row)
        events = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
        rows = list(csv.DictReader((out / "history.csv").open()))
        snapshots.append((run.step, len(rows), events))

    monkeypatch.setattr(CSVLogger, "on_epoch", read_logs_after)
    tb = True
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        tb = False
    argv = ["pretrain", "--dataset", "npz", "--root", str(labelled_archive(tmp_path / "a.npz")),
            "--epochs", "3", "--batch-size", "12", "--encoder", ENCODER, "--device", "cpu",
            "--window", "2", "--no-progress", "--no-baseline", "--label-fractions", "1.0",
            "--monitor-every", "2", "--set", "log_every_steps=1", "--out", str(out), *(["--tensorboard"] if tb else [])]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    # 36 train records at batch 12: 3 steps per epoch; the logs grow epoch by epoch.
    assert [(step, n_rows) for step, n_rows, _ in snapshots] == [(3, 1), (6, 2), (9, 3)]
    sizes = [len(events) for _, _, events in snapshots]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    events = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    key = "monitor/knn_macro_auroc"
    monitored = [e for e in events if e["event"] == "metrics"]
    assert [e["step"] for e in monitored] == [0, 2, 4, 6, 8, 9]
    assert all(0.0 <= e[key] <= 1.0 for e in monitored)
    assert [e["event"] for e in events][-1] == "end"
    assert [e["path"] for e in events if e["event"] == "checkpoint"]  # checkpoints logged
    rows = list(csv.DictReader((out / "history.csv").open()))
    assert len(rows) == 3 and float(rows[-1][key]) == pytest.approx(monitored[-1][key])
    results = json.loads((out / "results.json").read_text())
    assert results["history"][-1][key] == pytest.approx(monitored[-1][key])
    if not tb:
        pytest.skip("tensorboard is not installed: logs checked, TensorBoard events not")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    acc = EventAccumulator(str(out / "tensorboard"))
    acc.Reload()
    assert [s.step for s in acc.Scalars(key)] == [0, 2, 4, 6, 8, 9]
    assert {"train/loss", "epoch/loss", "epoch/samples_per_s"} <= set(acc.Tags()["scalars"])
    assert [s.step for s in acc.Scalars("train/loss")] == list(range(1, 10))


def test_tensorboard_needs_out(capsys):
    assert main(["pretrain", "--tensorboard", "--no-progress"]) == 2
    assert "--tensorboard needs --out" in capsys.readouterr().err


def test_plot_draws_health_and_monitor_panels(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from ecgssl.cli.plot import plot_history

    titles = []
    savefig = plt.Figure.savefig

    def record(fig, *args, **kwargs):
        titles.extend(ax.get_title() for ax in fig.axes)
        return savefig(fig, *args, **kwargs)

    monkeypatch.setattr(plt.Figure, "savefig", record)
    history = [{"epoch": e, "step": 3 * e, "loss": 1 / e, "lr": 1e-3, "momentum": 0.99,
                "seconds": 1.0, "samples_per_s": 10.0, "health/effective_rank": 3.0 + e,
                **({"monitor/knn_macro_auroc": 0.5 + e / 10, "monitor/seconds": 0.1}
                   if e > 1 else {})}
               for e in (1, 2, 3)]  # fmt: skip
    plot_history(history, tmp_path / "curves.png")
    assert titles == ["loss", "learning rate", "effective_rank", "online monitor (val)"]
