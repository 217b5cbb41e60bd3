"""PretrainConfig(activation_checkpointing=True): the online encoder's blocks are
checkpointed during training, the run trains as without it, and the option is checked."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ecgssl.augment import Compose, TwoViews
from ecgssl.encoders import wrap_model
from ecgssl.registry import AUGMENTATIONS, ENCODERS, METHODS
from ecgssl.training import PretrainConfig, Pretrainer

FS = 50.0


def signals(n: int = 16, leads: int = 3, t: int = 100) -> torch.Tensor:
    return torch.randn(n, leads, t, generator=torch.Generator().manual_seed(0))


def views() -> TwoViews:
    return TwoViews(Compose([
        AUGMENTATIONS.build({"name": "random_crop", "seconds": 1.5}),
        AUGMENTATIONS.build("gaussian_noise"),
    ]))  # fmt: skip


def bell(encoder: str = "multibranch"):
    torch.manual_seed(0)
    small = {"multibranch": {"per_lead_dim": 8, "width": 4}, "resnet1d": {"width": 8,
             "depth": [1, 1], "output_dim": 16}}[encoder]  # fmt: skip
    enc = ENCODERS.build(encoder, n_leads=3, **small)
    return METHODS.build("bell" if encoder == "multibranch" else "byol", encoder=enc)


def run(checkpointing: bool, encoder: str = "multibranch", steps: int = 2):
    method = bell(encoder)
    trainer = Pretrainer(method, views(), steps=steps, batch_size=8, progress=False,
                         device="cpu", activation_checkpointing=checkpointing)  # fmt: skip
    return trainer.fit(signals(), fs=FS)


@pytest.mark.parametrize("encoder", ["multibranch", "resnet1d"])
def test_one_step_trains_with_checkpointing(encoder, monkeypatch):
    import ecgssl.encoders.base as base

    calls: list[bool] = []
    real = base.checkpointed

    def spy(fn, module, *args):
        calls.append(torch.is_grad_enabled())
        return real(fn, module, *args)

    monkeypatch.setattr(base, "checkpointed", spy)
    method = bell(encoder)
    before = [p.detach().clone() for p in method.online_parameters()]
    result = Pretrainer(method, views(), steps=1, batch_size=8, progress=False, device="cpu",
                        activation_checkpointing=True).fit(signals(), fs=FS)  # fmt: skip
    assert calls and all(calls)  # the online encoder's blocks, never the no-grad target
    assert torch.isfinite(torch.tensor(result.final_loss))
    assert any(not torch.equal(b, p) for b, p in zip(before, method.online_parameters()))
    assert not result.encoder.checkpointing  # off again after fit
    assert not method.target_encoder.checkpointing


def test_checkpointing_does_not_change_the_run():
    plain, ckpt = run(False), run(True)
    assert ckpt.final_loss == pytest.approx(plain.final_loss, rel=1e-5)
    a, b = plain.method.state_dict(), ckpt.method.state_dict()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-5, atol=1e-6, msg=k)


def test_activation_checkpointing_is_checked():
    with pytest.raises(ValueError, match="activation_checkpointing must be True or False"):
        PretrainConfig(activation_checkpointing="yes")  # type: ignore[arg-type]
    wrapped = wrap_model(nn.Sequential(nn.Conv1d(3, 8, 3), nn.AdaptiveAvgPool1d(1),
                                       nn.Flatten()), output_dim=8, n_leads=3, fs=FS)  # fmt: skip
    method = METHODS.build("simclr", encoder=wrapped)
    with pytest.raises(ValueError, match="activation_checkpointing=True needs an encoder"):
        Pretrainer(method, views(), activation_checkpointing=True)
