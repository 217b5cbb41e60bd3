"""SimSiam-specific properties: stop-gradient on the target branch, heads, no EMA."""

from __future__ import annotations

import torch

from ecgssl.methods import SimSiam, negative_cosine_loss
from ecgssl.registry import ENCODERS


def small_method() -> SimSiam:
    torch.manual_seed(0)
    enc = ENCODERS.build("multibranch", n_leads=3, per_lead_dim=16, width=4)
    return SimSiam(enc, proj_hidden_dim=32, proj_dim=32, pred_hidden_dim=8)


def views(b: int = 6):
    g = torch.Generator().manual_seed(1)
    return torch.randn(b, 3, 96, generator=g), torch.randn(b, 3, 96, generator=g)


def _grads(method: SimSiam) -> list[torch.Tensor]:
    return [p.grad.clone() for p in method.projector.parameters() if p.grad is not None]


def test_loss_and_gradients_follow_the_stop_gradient():
    method = small_method()
    v1, v2 = views()
    out = method.training_step(v1, v2)
    out["loss"].backward()
    got = _grads(method)

    method.zero_grad()
    z = method.projector(method.encoder(torch.cat([v1, v2])))
    p = method.predictor(z)
    with_sg = (
        negative_cosine_loss(p[:6], z[6:].detach()) + negative_cosine_loss(p[6:], z[:6].detach())
    ) / 2
    torch.testing.assert_close(out["loss"], with_sg)
    with_sg.backward()
    for a, b in zip(got, _grads(method)):
        torch.testing.assert_close(a, b)

    # Without the stop-gradient the projector's gradient would differ.
    method.zero_grad()
    z = method.projector(method.encoder(torch.cat([v1, v2])))
    p = method.predictor(z)
    no_sg = (negative_cosine_loss(p[:6], z[6:]) + negative_cosine_loss(p[6:], z[:6])) / 2
    no_sg.backward()
    assert any(not torch.allclose(a, b) for a, b in zip(got, _grads(method)))


def test_heads_follow_the_paper():
    method = small_method()
    assert not method.uses_momentum
    last = list(method.projector.net)[-1]
    assert isinstance(last, torch.nn.BatchNorm1d) and not last.affine
    n_linear = sum(isinstance(m, torch.nn.Linear) for m in method.projector.modules())
    assert n_linear == 3
    assert method.predictor.net[0].out_features == 8  # bottleneck
