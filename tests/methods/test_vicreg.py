"""VICReg-specific properties: the loss on its heads, logged terms, hyperparameter checks."""

from __future__ import annotations

import pytest
import torch

from ecgssl.methods import VICReg, vicreg_loss
from ecgssl.registry import ENCODERS


def small_method(**kwargs) -> VICReg:
    torch.manual_seed(0)
    enc = ENCODERS.build("multibranch", n_leads=3, per_lead_dim=16, width=4)
    return VICReg(enc, proj_hidden_dim=32, proj_dim=24, **kwargs)


def views(b: int = 6):
    g = torch.Generator().manual_seed(1)
    return torch.randn(b, 3, 96, generator=g), torch.randn(b, 3, 96, generator=g)


def test_training_step_is_vicreg_loss_on_the_expander():
    method = small_method(sim_weight=2.0, var_weight=3.0, cov_weight=0.5)
    v1, v2 = views()
    out = method.training_step(v1, v2)
    z = method.projector(method.encoder(torch.cat([v1, v2])))
    loss, inv, var, cov = vicreg_loss(z[:6], z[6:], 2.0, 3.0, 0.5)
    torch.testing.assert_close(out["loss"], loss)
    for key, term in (("invariance", inv), ("variance", var), ("covariance", cov)):
        torch.testing.assert_close(out[key], term.detach())
        assert not out[key].requires_grad


def test_paper_defaults_and_no_target():
    method = small_method()
    assert method.weights == (25.0, 25.0, 1.0)
    assert (method.gamma, method.eps) == (1.0, 1e-4)
    assert not method.uses_momentum
    assert "base_momentum" not in method.hparams
    assert sum(isinstance(m, torch.nn.Linear) for m in method.projector.modules()) == 3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sim_weight": -1.0}, "sim_weight"),
        ({"var_weight": -0.1}, "var_weight"),
        ({"cov_weight": -2.0}, "cov_weight"),
        ({"gamma": 0.0}, "gamma"),
        ({"eps": 0.0}, "eps"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small_method(**kwargs)
