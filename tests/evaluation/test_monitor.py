"""The online monitor: it leaves training untouched, is deterministic, and its AUROC reaches
the history, the JSONL log and TensorBoard."""

from __future__ import annotations

import json

import pytest
import torch

import ecgssl
from ecgssl.augment import Compose, TwoViews
from ecgssl.evaluation import OnlineMonitor
from ecgssl.registry import AUGMENTATIONS, ENCODERS, METHODS
from ecgssl.training import Callback, Pretrainer

from ..toy_data import TINY
from ..toy_data import toy_dataset as _toy

pytestmark = pytest.mark.usefixtures("one_thread")


def toy_dataset(labels: bool = True) -> ecgssl.ECGDataset:
    return _toy(n=48, leads=3, labels=labels)


def fit(callbacks=(), **kw):
    torch.manual_seed(0)
    enc = ENCODERS.build("multibranch", n_leads=3, per_lead_dim=8, width=4)
    views = TwoViews(Compose([AUGMENTATIONS.build({"name": "random_crop", "seconds": 1.5}),
                              AUGMENTATIONS.build("gaussian_noise")]))  # fmt: skip
    options = {"epochs": 2, "batch_size": 8, "progress": False, "device": "cpu", **kw}
    trainer = Pretrainer(METHODS.build("byol", encoder=enc), views, callbacks=list(callbacks),
                         **options)  # fmt: skip
    return trainer.fit(toy_dataset())


class TrainModeCheck(Callback):
    """Runs after the monitor: the encoder must be back in training mode."""

    order = 5

    def __init__(self) -> None:
        self.checked = 0

    def on_step(self, run, logs):
        assert run.method.encoder.training
        self.checked += 1


@pytest.mark.parametrize("probe", ["knn", "linear"])
def test_monitor_does_not_change_the_trajectory(probe):
    plain = fit()
    check = TrainModeCheck()
    monitor = OnlineMonitor.from_dataset(toy_dataset(), every_steps=1, probe=probe)
    watched = fit([monitor, check])
    for k, v in plain.method.state_dict().items():
        torch.testing.assert_close(watched.method.state_dict()[k], v, atol=0, rtol=0)
    key = f"monitor/{probe}_macro_auroc"
    assert all(0.0 <= row[key] <= 1.0 for row in watched.history)
    assert all(key not in row for row in plain.history)
    assert check.checked == 6


def test_monitor_is_deterministic_and_capped():
    ds = toy_dataset()
    monitor = OnlineMonitor.from_dataset(ds, every_steps=1, max_records=5)
    assert len(monitor.train) == 5 and len(monitor.val) == 5
    torch.manual_seed(0)
    enc = ecgssl.build_encoder(TINY, 3).train()
    a, b = monitor.evaluate(enc, "cpu"), monitor.evaluate(enc, "cpu")
    assert a["monitor/knn_macro_auroc"] == b["monitor/knn_macro_auroc"]
    assert enc.training  # the mode it had


def test_monitor_auroc_reaches_the_jsonl_log_and_tensorboard(tmp_path):
    have_tb = True
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        have_tb = False
    result = ecgssl.pretrain(
        "byol", toy_dataset(), encoder=TINY, epochs=2, batch_size=8, device="cpu",
        progress=False, window_seconds=3.0, monitor_every=4, log_dir=tmp_path,
        tensorboard=have_tb,
    )  # fmt: skip
    key = "monitor/knn_macro_auroc"
    events = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    monitored = [e for e in events if e["event"] == "metrics"]
    assert [e["step"] for e in monitored] == [0, 4, 6]  # start, every 4 steps, last step
    assert all(0.0 <= e[key] <= 1.0 for e in monitored)
    epochs = [e for e in events if e["event"] == "epoch"]
    assert epochs[-1][key] == monitored[-1][key] == result.history[-1][key]
    assert key not in result.history[0]  # no evaluation inside epoch 1 (steps 1-3)
    if not have_tb:
        pytest.skip("tensorboard is not installed: the JSONL part passed, events not checked")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path / "tensorboard"))
    acc.Reload()
    scalars = acc.Scalars(key)
    assert [s.step for s in scalars] == [0, 4, 6]
    assert [s.value for s in scalars] == pytest.approx([e[key] for e in monitored])


def test_monitor_needs_labelled_val_records():
    with pytest.raises(ValueError, match="has no labels"):
        OnlineMonitor.from_dataset(toy_dataset(labels=False), every_steps=5)
    with pytest.raises(ValueError, match="has no labels"):
        ecgssl.pretrain("byol", toy_dataset(labels=False), encoder=TINY, monitor_every=5)
    ds = toy_dataset()
    with pytest.raises(ValueError, match="probe"):
        OnlineMonitor.from_dataset(ds, every_steps=5, probe="svm")
    with pytest.raises(ValueError, match="every_steps"):
        OnlineMonitor.from_dataset(ds, every_steps=0)


def test_monitor_refuses_other_sampling_rate():
    ds = toy_dataset()
    monitor = OnlineMonitor.from_dataset(ds, every_steps=1)
    monitor.fs = 100.0
    with pytest.raises(ValueError, match="Hz"):
        fit([monitor])
