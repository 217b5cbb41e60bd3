"""BELL-specific properties: gamma=1 is per-lead BYOL, gradients, EMA targets."""

from __future__ import annotations

import copy

import pytest
import torch

from ecgssl.methods import BELL, byol_loss
from ecgssl.methods.losses import cross_lead_covariance, lead_variance_covariance
from ecgssl.registry import ENCODERS, METHODS


def small_multibranch(n_leads: int = 4, shared: bool = False):
    torch.manual_seed(0)
    return ENCODERS.build(
        "multibranch", n_leads=n_leads, per_lead_dim=16, width=8, shared_weights=shared
    )


def views(n_leads: int = 4, b: int = 6, t: int = 128):
    g = torch.Generator().manual_seed(1)
    return torch.randn(b, n_leads, t, generator=g), torch.randn(b, n_leads, t, generator=g)


def test_gamma_one_equals_per_lead_byol():
    method = BELL(small_multibranch(), gamma=1.0, proj_dim=8, proj_hidden_dim=16,
                  pred_hidden_dim=16)  # fmt: skip
    v1, v2 = views()
    torch.manual_seed(5)
    out = method.training_step(v1, v2)
    # Recompute with explicit per-lead BYOL losses on the same heads.
    both = torch.cat([v1, v2])
    p = method.predictor(method.projector(method.encoder.forward_leads(both)))
    with torch.no_grad():
        z = method.target_projector(method.target_encoder.forward_leads(both))
    b = v1.shape[0]
    expected = (
        sum(byol_loss(p[:b, i], z[b:, i]) + byol_loss(p[b:, i], z[:b, i]) for i in range(4)) / 4
    )
    assert float(out["loss"].detach()) == pytest.approx(float(expected.detach()), abs=1e-5)


def test_gradients_reach_only_the_online_network():
    method = BELL(small_multibranch())
    v1, v2 = views()
    method.training_step(v1, v2)["loss"].backward()
    for p in method.targets.parameters():
        assert p.grad is None and not p.requires_grad
    online = method.online_parameters()
    assert online, "no online parameters"
    assert all(p.grad is not None for p in online)
    assert any(float(p.grad.abs().sum()) > 0 for p in method.encoder.parameters())
    assert any(float(p.grad.abs().sum()) > 0 for p in method.predictor.parameters())


def test_target_is_ema_of_online_after_a_step():
    method = BELL(small_multibranch(), base_momentum=0.9, momentum_schedule="constant")
    before_target = copy.deepcopy(method.target_encoder.state_dict())
    opt = torch.optim.SGD(method.online_parameters(), lr=0.1)
    v1, v2 = views()
    method.training_step(v1, v2)["loss"].backward()
    opt.step()
    tau = method.update_target(progress=0.5)
    assert tau == pytest.approx(0.9)
    online = dict(method.encoder.named_parameters())
    for name, t in method.target_encoder.named_parameters():
        expected = 0.9 * before_target[name] + 0.1 * online[name].detach()
        torch.testing.assert_close(t, expected, atol=1e-6, rtol=0)
    # Buffers (BatchNorm statistics) follow the online network.
    for (_, tb), (_, ob) in zip(
        method.target_encoder.named_buffers(), method.encoder.named_buffers()
    ):
        torch.testing.assert_close(tb, ob)


def test_cosine_momentum_schedule_endpoints():
    method = BELL(small_multibranch(), base_momentum=0.99, final_momentum=1.0)
    assert method.momentum_at(0.0) == pytest.approx(0.99)
    assert method.momentum_at(1.0) == pytest.approx(1.0)
    assert 0.99 < method.momentum_at(0.5) < 1.0


def test_random_pair_mode_runs_and_differs_from_all_pairs():
    enc = small_multibranch()
    torch.manual_seed(0)
    all_pairs = BELL(copy.deepcopy(enc), gamma=0.0)
    torch.manual_seed(0)
    one_pair = BELL(copy.deepcopy(enc), gamma=0.0, inter_pairs="random")
    v1, v2 = views()
    a = float(all_pairs.training_step(v1, v2)["loss"])
    b = float(one_pair.training_step(v1, v2)["loss"])
    assert a != pytest.approx(b)


def test_shared_weights_option():
    enc = small_multibranch(shared=True)
    method = METHODS.build("bell", encoder=enc, shared_weights=True)
    assert method.hparams["shared_weights"] is True
    assert method.projector.shared
    with pytest.raises(ValueError, match="shared_weights"):
        BELL(small_multibranch(shared=False), shared_weights=True)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"gamma": 1.2}, "gamma"),
        ({"gamma": -0.5}, "gamma"),
        ({"inter_pairs": "some"}, "inter_pairs"),
        ({"base_momentum": 1.5}, "base_momentum"),
        ({"base_momentum": 0.999, "final_momentum": 0.99}, "final_momentum"),
        ({"momentum_schedule": "linear"}, "momentum_schedule"),
        ({"var_weight": -1.0}, "var_weight"),
        ({"cov_weight": -0.1}, "cov_weight"),
        ({"cross_cov_weight": -0.1}, "cross_cov_weight"),
        ({"regularise": "predictions"}, "regularise"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BELL(small_multibranch(), **kwargs)


def test_bell_needs_multibranch_and_two_leads():
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="multi-branch"):
        BELL(ENCODERS.build("resnet1d", n_leads=4))
    with pytest.raises(ValueError, match="at least 2 leads"):
        BELL(small_multibranch(n_leads=1), gamma=0.8)
    BELL(small_multibranch(n_leads=1), gamma=1.0)  # single lead: intra-only is fine


def plain_and_regularised(**options):
    """The paper's BELL and one with ``options``, same weights, one step each on the same
    views and random pairs: (regularised model, v1, v2, plain outputs, regularised outputs)."""
    kwargs = {"proj_dim": 8, "proj_hidden_dim": 16, "pred_hidden_dim": 16}
    plain = BELL(small_multibranch(), **kwargs)
    reg = BELL(small_multibranch(), **options, **kwargs)
    reg.load_state_dict(plain.state_dict())
    v1, v2 = views()
    torch.manual_seed(5)
    base = plain.training_step(v1, v2)
    torch.manual_seed(5)
    return reg, v1, v2, base, reg.training_step(v1, v2)


def test_variance_covariance_regulariser_adds_vicreg_terms_of_online_projections():
    reg, v1, v2, base, out = plain_and_regularised(var_weight=2.0, cov_weight=0.5)
    assert "variance" not in base
    b = v1.shape[0]
    g = reg.projector(reg.encoder.forward_leads(torch.cat([v1, v2])))
    var_a, cov_a = lead_variance_covariance(g[:b])
    var_b, cov_b = lead_variance_covariance(g[b:])
    expected = base["loss"] + 2.0 * (var_a + var_b) / 2 + 0.5 * (cov_a + cov_b)
    assert float(out["loss"]) == pytest.approx(float(expected), rel=1e-5)
    assert float(out["variance"]) == pytest.approx(float((var_a + var_b) / 2), rel=1e-5)
    out["loss"].backward()
    assert all(p.grad is not None for p in reg.projector.parameters())
    assert reg.hparams["var_weight"] == 2.0 and reg.hparams["cov_weight"] == 0.5


def test_cross_lead_covariance_regulariser_adds_its_weighted_term():
    reg, v1, v2, base, out = plain_and_regularised(cross_cov_weight=0.25)
    assert "cross_covariance" not in base and "variance" not in out
    b = v1.shape[0]
    g = reg.projector(reg.encoder.forward_leads(torch.cat([v1, v2])))
    cross = cross_lead_covariance(g[:b]) + cross_lead_covariance(g[b:])
    assert float(out["loss"]) == pytest.approx(float(base["loss"] + 0.25 * cross), rel=1e-5)
    assert float(out["cross_covariance"]) == pytest.approx(float(cross), rel=1e-5)
    out["loss"].backward()
    assert all(p.grad is not None for p in reg.encoder.parameters() if p.requires_grad)
    assert reg.hparams["cross_cov_weight"] == 0.25


def test_regulariser_can_act_on_the_representation_instead():
    """regularise="representation": the same penalties on the encoder's per-lead latents h."""
    reg, v1, v2, base, out = plain_and_regularised(
        var_weight=2.0, cov_weight=0.5, cross_cov_weight=0.25, regularise="representation"
    )
    b = v1.shape[0]
    h = reg.encoder.forward_leads(torch.cat([v1, v2]))
    var_a, cov_a = lead_variance_covariance(h[:b])
    var_b, cov_b = lead_variance_covariance(h[b:])
    cross = cross_lead_covariance(h[:b]) + cross_lead_covariance(h[b:])
    expected = base["loss"] + (var_a + var_b) + 0.5 * (cov_a + cov_b) + 0.25 * cross
    assert float(out["loss"]) == pytest.approx(float(expected), rel=1e-5)
    out["loss"].backward()
    assert all(p.grad is not None for p in reg.encoder.parameters() if p.requires_grad)
    assert reg.hparams["regularise"] == "representation"


def test_regulariser_on_both_sums_the_penalties_on_representation_and_projection():
    """regularise="both": each penalty on h and on g(h), with the same weights, summed."""
    reg, v1, v2, base, out = plain_and_regularised(
        var_weight=2.0, cov_weight=0.5, cross_cov_weight=0.25, regularise="both"
    )
    b = v1.shape[0]
    h = reg.encoder.forward_leads(torch.cat([v1, v2]))
    expected = base["loss"]
    variance = 0.0
    for r in (h, reg.projector(h)):
        var_a, cov_a = lead_variance_covariance(r[:b])
        var_b, cov_b = lead_variance_covariance(r[b:])
        cross = cross_lead_covariance(r[:b]) + cross_lead_covariance(r[b:])
        expected = expected + (var_a + var_b) + 0.5 * (cov_a + cov_b) + 0.25 * cross
        variance = variance + float((var_a + var_b) / 2)
    assert float(out["loss"]) == pytest.approx(float(expected), rel=1e-5)
    assert float(out["variance"]) == pytest.approx(variance, rel=1e-5)
    out["loss"].backward()
    assert all(p.grad is not None for p in reg.projector.parameters())
    assert all(p.grad is not None for p in reg.encoder.parameters() if p.requires_grad)
