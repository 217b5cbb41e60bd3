from __future__ import annotations

import itertools

import pytest
import torch

from ecgssl.training import LARS, PretrainConfig, warmup_cosine


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"lr": 0.0}, "lr"),
        ({"lr": -1e-3}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"min_lr_ratio": 2.0}, "min_lr_ratio"),
        ({"amp": "yes"}, "amp"),
        ({"nan_policy": "ignore"}, "nan_policy"),
        ({"resume": "auto"}, "checkpoint_dir"),
        ({"resume": "/no/such/checkpoint.pt"}, "does not exist"),
        ({"checkpoint_every_steps": 0}, "checkpoint_every_steps"),
        ({"checkpoint_every_steps": 1.5}, "checkpoint_every_steps"),
        ({"drop_last": "yes"}, "drop_last"),
        ({"progress": 1}, "progress"),
        ({"amp": 1}, "amp"),
        ({"device": 3}, "device"),
        ({"device": ""}, "device"),
        ({"checkpoint_dir": 5}, "checkpoint_dir"),
        ({"resume": 1.0}, "resume"),
        ({"seed": 2**64}, "seed"),
        ({"seed": -1}, "seed"),
        ({"lr": 10**400}, "lr"),
        ({"lr": "0.1"}, "lr"),
        ({"optimizer": None}, "optimizer"),
        ({"keep_last": 0}, "keep_last"),
    ],
)
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PretrainConfig(**kwargs)


def test_config_round_trips_to_dict():
    cfg = PretrainConfig(epochs=3, lr=0.01, checkpoint_dir="x")
    assert PretrainConfig(**cfg.to_dict()) == cfg


def test_warmup_cosine_shape():
    f = warmup_cosine(total_steps=100, warmup_steps=10, min_ratio=0.1)
    assert f(0) == pytest.approx(0.1)
    assert f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0)
    assert f(54) > 0.1 + 0.9 * 0.5 > f(55)  # halfway between step 10 and the last, 99
    assert f(99) == pytest.approx(0.1)  # the last step (0-based) ends the decay
    assert f(100) == pytest.approx(0.1)
    values = [f(s) for s in range(10, 101)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_lars_minimises_a_quadratic():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(10))
    b = torch.nn.Parameter(torch.zeros(10))
    opt = LARS([{"params": [w]}, {"params": [b], "lars_exclude": True}], lr=0.5, eta=0.1)
    start = float((w**2).sum().detach() + ((b - 1) ** 2).sum().detach())
    for _ in range(200):
        opt.zero_grad()
        loss = (w**2).sum() + ((b - 1) ** 2).sum()
        loss.backward()
        opt.step()
    assert float((w**2).sum().detach() + ((b - 1) ** 2).sum().detach()) < 0.05 * start
    with pytest.raises(ValueError, match="lr"):
        LARS([w], lr=0.0)
