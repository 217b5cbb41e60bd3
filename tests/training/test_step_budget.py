"""Budgets in steps: schedules reach their end values at the last step, whatever the data size."""

from __future__ import annotations

import math

import pytest

from ecgssl.training import Pretrainer
from ecgssl.training.config import PretrainConfig
from ecgssl.training.optim import warmup_cosine

from .test_pretrainer import FS, method, signals, views


@pytest.mark.parametrize(("total", "warmup"), [(7, 2), (100, 10), (5, 0), (2, 1)])
def test_warmup_cosine_end_values(total, warmup):
    f = warmup_cosine(total, warmup, 0.01)
    if warmup:
        assert f(0) == pytest.approx(1 / warmup)
        assert f(warmup - 1) == pytest.approx(1.0)
        assert all(f(s) <= 1.0 + 1e-12 for s in range(total))
    assert f(total - 1) == pytest.approx(0.01)
    values = [f(s) for s in range(warmup, total)]
    assert values == sorted(values, reverse=True)  # decays monotonically after warm-up


def test_config_step_arithmetic():
    cfg = PretrainConfig(steps=7, warmup_steps=2)
    assert cfg.total_steps(3) == 7 and cfg.n_epochs(3) == 3 and cfg.n_warmup_steps(3) == 2
    cfg = PretrainConfig(epochs=4, warmup_epochs=0.5)
    assert cfg.total_steps(10) == 40 and cfg.n_epochs(10) == 4 and cfg.n_warmup_steps(10) == 5
    assert PretrainConfig(steps=3, warmup_steps=10).n_warmup_steps(5) == 2  # never the whole run
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="steps"):
            PretrainConfig(steps=bad)
    with pytest.raises(ValueError, match="warmup_steps"):
        PretrainConfig(warmup_steps=-1)


@pytest.mark.parametrize("n_records", [24, 40])  # 3 and 5 batches per epoch
def test_step_budget_same_schedule_any_dataset_size(n_records):
    lr, min_ratio, steps = 1e-3, 0.05, 7
    m = method("bell")
    trainer = Pretrainer(m, views(), steps=steps, warmup_steps=2, batch_size=8, lr=lr,
                         min_lr_ratio=min_ratio, progress=False, device="cpu")  # fmt: skip
    result = trainer.fit(signals(n=n_records), fs=FS)
    hist = result.history
    per_epoch = n_records // 8
    assert hist[-1]["step"] == steps  # exactly the budget, the last epoch cut short
    assert len(hist) == math.ceil(steps / per_epoch)
    assert hist[-1]["lr"] == pytest.approx(lr * min_ratio)  # cosine ends at the last step
    assert hist[-1]["momentum"] == pytest.approx(m.final_momentum)  # EMA ends at 1
    assert result.method.momentum == pytest.approx(1.0)


def test_epochs_still_work_and_steps_win():
    m = method("byol")
    result = Pretrainer(m, views(), epochs=50, steps=4, batch_size=8, progress=False,
                        device="cpu").fit(signals(), fs=FS)  # fmt: skip
    assert result.history[-1]["step"] == 4 and len(result.history) == 2
