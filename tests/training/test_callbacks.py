"""Callbacks and the built-in loggers: hook order, logs written while training runs, resume,
TensorBoard, the console line, and errors that are not swallowed."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch

from ecgssl.augment import Compose, TwoViews
from ecgssl.registry import AUGMENTATIONS, ENCODERS, METHODS
from ecgssl.training import (
    Callback,
    JSONLLogger,
    PretrainConfig,
    Pretrainer,
    TensorBoardLogger,
    find_checkpoints,
)

FS = 50.0


def signals(n: int = 24, leads: int = 3, t: int = 100) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.sin(2 * torch.pi * 1.2 * torch.arange(t) / FS) + 0.3 * torch.randn(
        n, leads, t, generator=g
    )


def trainer(callbacks=(), **kw) -> Pretrainer:
    torch.manual_seed(0)
    enc = ENCODERS.build("multibranch", n_leads=3, per_lead_dim=8, width=4)
    views = TwoViews(Compose([AUGMENTATIONS.build({"name": "random_crop", "seconds": 1.5}),
                              AUGMENTATIONS.build("gaussian_noise")]))  # fmt: skip
    options = {"epochs": 3, "batch_size": 8, "progress": False, "device": "cpu", **kw}
    return Pretrainer(METHODS.build("bell", encoder=enc), views, callbacks=list(callbacks),
                      **options)  # fmt: skip


def jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


class Recorder(Callback):
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def on_start(self, run):
        self.events.append(("start", run.step))

    def on_step(self, run, logs):
        assert logs["step"] == run.step and math.isfinite(logs["loss"])
        self.events.append(("step", run.step))

    def on_epoch(self, run, row):
        assert row is run.history[-1] and row["epoch"] == run.epoch
        self.events.append(("epoch", run.step))

    def on_checkpoint(self, run, path):
        assert path.exists()
        self.events.append(("checkpoint", run.step))

    def on_end(self, run, history):
        self.events.append(("end", run.step))


def test_hooks_are_called_in_order(tmp_path):
    rec = Recorder()
    trainer([rec], epochs=2, checkpoint_dir=tmp_path, checkpoint_every=1).fit(signals(), fs=FS)
    steps = [("step", s) for s in (1, 2, 3)]
    steps2 = [("step", s) for s in (4, 5, 6)]
    assert rec.events == [("start", 0), *steps, ("epoch", 3), ("checkpoint", 3), *steps2,
                          ("epoch", 6), ("checkpoint", 6), ("end", 6)]  # fmt: skip


def test_logs_grow_while_training(tmp_path):
    """log.jsonl and history.csv are on disk, complete up to the epoch, when it ends."""
    seen = []

    class ReadLogs(Callback):
        def on_epoch(self, run, row):
            rows = list(csv.DictReader((tmp_path / "history.csv").open()))
            events = jsonl(tmp_path / "log.jsonl")
            seen.append((len(rows), [e["step"] for e in events if e["event"] == "step"]))

    result = trainer([ReadLogs()], log_dir=tmp_path, log_every_steps=2).fit(signals(), fs=FS)
    # The CSV logger runs before ReadLogs: the current epoch is already written.
    assert seen == [(1, [2]), (2, [2, 4, 6]), (3, [2, 4, 6, 8])]
    events = jsonl(tmp_path / "log.jsonl")
    assert events[0]["event"] == "start" and events[0]["method"] == "bell"
    assert events[-1]["event"] == "end" and events[-1]["step"] == 9
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["loss"] for e in epochs] == pytest.approx([h["loss"] for h in result.history])
    rows = list(csv.DictReader((tmp_path / "history.csv").open()))
    assert [float(r["loss"]) for r in rows] == pytest.approx([h["loss"] for h in result.history])
    assert "health/effective_rank" in rows[0]


def test_callback_errors_are_not_swallowed():
    class Boom(Callback):
        def on_epoch(self, run, row):
            raise RuntimeError("boom at epoch end")

    with pytest.raises(RuntimeError, match="boom at epoch end"):
        trainer([Boom()]).fit(signals(), fs=FS)
    with pytest.raises(TypeError, match="Callback"):
        trainer([print])


def test_resume_keeps_one_consistent_log(tmp_path):
    full = trainer(epochs=4, log_dir=tmp_path / "full", log_every_steps=1,
                   checkpoint_dir=tmp_path / "full", checkpoint_every=1).fit(signals(), fs=FS)  # fmt: skip
    ckpt = find_checkpoints(tmp_path / "full")[0]  # epoch 3 (keep_last=2)
    # A crashed run's log reaches past its last checkpoint; the resume drops those lines.
    run_dir = tmp_path / "again"
    run_dir.mkdir()
    (run_dir / "log.jsonl").write_text((tmp_path / "full" / "log.jsonl").read_text())
    resumed = trainer(epochs=4, log_dir=run_dir, log_every_steps=1, resume=ckpt).fit(
        signals(), fs=FS
    )
    for k, v in full.method.state_dict().items():
        torch.testing.assert_close(resumed.method.state_dict()[k], v, atol=1e-6, rtol=0)
    steps = [e["step"] for e in jsonl(run_dir / "log.jsonl") if e["event"] == "step"]
    assert steps == list(range(1, 13))
    starts = [e for e in jsonl(run_dir / "log.jsonl") if e["event"] == "start"]
    assert [s["resumed_from"] for s in starts] == [None, str(ckpt)]
    rows = list(csv.DictReader((run_dir / "history.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]


def test_console_prints_one_line_per_epoch_only_with_progress(capsys):
    trainer(epochs=2).fit(signals(), fs=FS)
    assert capsys.readouterr().out == ""  # progress=False stays quiet
    trainer(epochs=2, progress=True).fit(signals(), fs=FS)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("bell")]
    assert len(lines) == 2 and lines[1].startswith("bell epoch 2/2 step 6/6: loss ")
    assert "lr " in lines[0] and "momentum " in lines[0] and "samples/s" in lines[0]


def test_tensorboard_events(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    trainer(epochs=2, log_dir=tmp_path, tensorboard=True, log_every_steps=1).fit(signals(), fs=FS)
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    acc = EventAccumulator(str(tmp_path / "tensorboard"))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert {"train/loss", "train/lr", "epoch/loss", "epoch/samples_per_s"} <= set(tags)
    assert [e.step for e in acc.Scalars("train/loss")] == list(range(1, 7))
    assert [e.step for e in acc.Scalars("epoch/loss")] == [3, 6]


def test_tensorboard_missing_is_a_clear_error(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ImportError, match=r"ecgssl\[tensorboard\]"):
        TensorBoardLogger(tmp_path)


def test_logging_options_are_validated(tmp_path):
    with pytest.raises(ValueError, match="tensorboard=True needs a log_dir"):
        PretrainConfig(tensorboard=True)
    with pytest.raises(ValueError, match="log_every_steps"):
        PretrainConfig(log_every_steps=0)
    with pytest.raises(ValueError, match="every_steps"):
        JSONLLogger(tmp_path / "x.jsonl", every_steps=0)
    assert PretrainConfig(log_dir=tmp_path).to_dict()["log_dir"] == str(tmp_path)
