"""Lead-wise Barlow Twins: shares BELL's lead-pair machinery; gamma=1 is per-lead Barlow Twins."""

from __future__ import annotations

import copy

import pytest
import torch

from ecgssl.methods import BELL, LeadBarlow, LeadPairMethod, barlow_twins_loss
from ecgssl.registry import ENCODERS, METHODS


def small_multibranch(n_leads: int = 4, shared: bool = False):
    torch.manual_seed(0)
    return ENCODERS.build(
        "multibranch", n_leads=n_leads, per_lead_dim=16, width=4, shared_weights=shared
    )


def small_method(**kwargs) -> LeadBarlow:
    kwargs.setdefault("encoder", small_multibranch())
    return LeadBarlow(proj_hidden_dim=16, proj_dim=8, **kwargs)


def views(b: int = 6, n_leads: int = 4):
    g = torch.Generator().manual_seed(1)
    return torch.randn(b, n_leads, 96, generator=g), torch.randn(b, n_leads, 96, generator=g)


def test_shares_bells_lead_pair_base():
    assert issubclass(LeadBarlow, LeadPairMethod) and issubclass(BELL, LeadPairMethod)
    assert LeadBarlow.default_encoder(shared_weights=True) == BELL.default_encoder(
        shared_weights=True
    )


def test_gamma_one_equals_per_lead_barlow_twins():
    method = small_method(gamma=1.0, lambd=0.01)
    v1, v2 = views()
    out = method.training_step(v1, v2)
    z = method.projector(method.encoder.forward_leads(torch.cat([v1, v2])))
    per_lead = [barlow_twins_loss(z[:6, i], z[6:, i], 0.01) for i in range(4)]
    torch.testing.assert_close(out["loss"], torch.stack(per_lead).mean())
    torch.testing.assert_close(out["intra"], out["loss"].detach())


def test_gamma_zero_uses_only_other_leads():
    method = small_method(gamma=0.0)
    v1, v2 = views()
    out = method.training_step(v1, v2)
    z = method.projector(method.encoder.forward_leads(torch.cat([v1, v2])))
    pairs = [(i, j) for i in range(4) for j in range(4) if i != j]
    expected = torch.stack([barlow_twins_loss(z[:6, i], z[6:, j]) for i, j in pairs]).mean()
    torch.testing.assert_close(out["loss"], expected)


def test_random_pair_mode_differs_from_all_pairs():
    enc = small_multibranch()
    all_pairs = small_method(encoder=copy.deepcopy(enc), gamma=0.0)
    one_pair = small_method(encoder=copy.deepcopy(enc), gamma=0.0, inter_pairs="random")
    v1, v2 = views()
    torch.manual_seed(3)
    a = all_pairs.training_step(v1, v2)["loss"].detach()
    b = one_pair.training_step(v1, v2)["loss"].detach()
    assert not torch.allclose(a, b)


def test_no_target_and_shared_weights_option():
    method = METHODS.build("lead_barlow", encoder=small_multibranch(shared=True),
                           shared_weights=True)  # fmt: skip
    assert not method.uses_momentum
    assert method.projector.shared
    assert "base_momentum" not in method.hparams
    assert METHODS.canonical("lfbt") == "lead_barlow"
    with pytest.raises(ValueError, match="shared_weights"):
        small_method(shared_weights=True)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"gamma": 1.1}, "gamma"),
        ({"gamma": -0.2}, "gamma"),
        ({"lambd": 0.0}, "lambd"),
        ({"inter_pairs": "few"}, "inter_pairs"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small_method(**kwargs)


def test_needs_multibranch_and_two_leads():
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="multi-branch"):
        LeadBarlow(ENCODERS.build("resnet1d", n_leads=4))
    with pytest.raises(ValueError, match="at least 2 leads"):
        small_method(encoder=small_multibranch(n_leads=1))
    small_method(encoder=small_multibranch(n_leads=1), gamma=1.0)
