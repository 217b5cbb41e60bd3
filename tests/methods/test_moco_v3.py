"""MoCo v3-specific properties: EMA keys, the symmetrised loss, paper defaults, checks."""

from __future__ import annotations

import pytest
import torch

from ecgssl.methods import MoCoV3, moco_v3_loss
from ecgssl.registry import ENCODERS, METHODS


def small_method(**kwargs) -> MoCoV3:
    torch.manual_seed(0)
    enc = ENCODERS.build("multibranch", n_leads=3, per_lead_dim=16, width=4)
    return MoCoV3(enc, proj_hidden_dim=32, proj_dim=16, **kwargs)


def test_training_step_is_symmetrised_moco_v3_loss():
    method = small_method(temperature=0.2)
    g = torch.Generator().manual_seed(1)
    v1, v2 = torch.randn(6, 3, 96, generator=g), torch.randn(6, 3, 96, generator=g)
    out = method.training_step(v1, v2)
    both = torch.cat([v1, v2])
    q = method.predictor(method.projector(method.encoder(both)))
    k = method.target_projector(method.target_encoder(both)).detach()
    expected = moco_v3_loss(q[:6], k[6:], 0.2) + moco_v3_loss(q[6:], k[:6], 0.2)
    torch.testing.assert_close(out["loss"], expected)
    out["loss"].backward()
    assert all(p.grad is None for p in method.targets.parameters())
    assert all(p.grad is not None for p in method.predictor.parameters())


def test_paper_defaults():
    method = small_method()
    assert method.temperature == 1.0
    assert method.uses_momentum
    assert method.momentum_at(0.0) == pytest.approx(0.99)
    assert method.momentum_at(1.0) == pytest.approx(1.0)
    last = list(method.projector.net)[-1]
    assert isinstance(last, torch.nn.BatchNorm1d) and not last.affine
    assert METHODS.canonical("mocov3") == "moco_v3"


@pytest.mark.parametrize(
    "kwargs, match",
    [({"temperature": 0.0}, "temperature"), ({"temperature": -1.0}, "temperature"),
     ({"base_momentum": 1.2}, "base_momentum")],
)  # fmt: skip
def test_bad_hyperparameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small_method(**kwargs)
