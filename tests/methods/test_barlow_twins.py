"""Barlow Twins-specific properties: the loss on its projector, paper defaults, checks."""

from __future__ import annotations

import pytest
import torch

from ecgssl.methods import BarlowTwins, barlow_twins_loss
from ecgssl.registry import ENCODERS, METHODS


def small_method(**kwargs) -> BarlowTwins:
    torch.manual_seed(0)
    enc = ENCODERS.build("resnet1d", n_leads=2)
    return BarlowTwins(enc, proj_hidden_dim=32, proj_dim=16, **kwargs)


def test_training_step_is_barlow_loss_on_the_projector():
    method = small_method(lambd=0.02)
    g = torch.Generator().manual_seed(1)
    v1, v2 = torch.randn(5, 2, 100, generator=g), torch.randn(5, 2, 100, generator=g)
    out = method.training_step(v1, v2)
    z = method.projector(method.encoder(torch.cat([v1, v2])))
    torch.testing.assert_close(out["loss"], barlow_twins_loss(z[:5], z[5:], 0.02))


def test_defaults_and_alias():
    method = small_method()
    assert method.lambd == pytest.approx(0.0051)
    assert not method.uses_momentum
    assert set(method.hparams) == {"proj_hidden_dim", "proj_dim", "lambd"}
    assert METHODS.canonical("barlowtwins") == "barlow_twins"


@pytest.mark.parametrize("lambd", [0.0, -0.005])
def test_bad_lambda_raises(lambd):
    with pytest.raises(ValueError, match="lambd"):
        small_method(lambd=lambd)
