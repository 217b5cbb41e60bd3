"""Every registered encoder: signal contract, finite output, one optimisation step,
seed determinism, config round trip and clear errors on bad input."""

from __future__ import annotations

import pytest
import torch

from ecgssl.encoders import Encoder
from ecgssl.registry import ENCODERS

NAMES = ENCODERS.list()
SMALL: dict[str, dict] = {
    "multibranch": {"width": 4, "per_lead_dim": 8},
    "resnet1d": {"width": 8, "depth": [1, 1]},
    "inception1d": {"filters": 8, "depth": 2},
}


def build(name: str, n_leads: int = 12, seed: int = 0, **kw) -> Encoder:
    torch.manual_seed(seed)
    enc = ENCODERS.build({"name": name, **SMALL.get(name, {}), **kw}, n_leads=n_leads)
    assert isinstance(enc, Encoder)
    return enc


def test_every_encoder_has_a_small_test_config():
    assert set(NAMES) <= set(SMALL), "add a small config for the new encoder to SMALL"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n_leads", [1, 12])
def test_encoder_conformance(name, n_leads):
    enc = build(name, n_leads)
    assert enc.n_leads == n_leads
    x = torch.randn(4, n_leads, 250)
    h = enc(x)
    assert h.shape == (4, enc.output_dim) and torch.isfinite(h).all()
    if enc.is_multibranch:
        per_lead = enc.forward_leads(x)
        assert per_lead.shape == (4, n_leads, enc.per_lead_dim)
        torch.testing.assert_close(h, per_lead.flatten(1))
    # One optimisation step changes the weights and keeps them finite.
    before = [p.detach().clone() for p in enc.parameters()]
    opt = torch.optim.SGD(enc.parameters(), lr=0.1)
    enc(x).pow(2).mean().backward()
    opt.step()
    assert any(not torch.equal(b, p) for b, p in zip(before, enc.parameters()))
    assert all(torch.isfinite(p).all() for p in enc.parameters())
    # Same seed -> same weights and outputs; the config rebuilds the same architecture.
    a, b = build(name, n_leads, seed=3), build(name, n_leads, seed=3)
    a.eval()
    b.eval()
    torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)
    rebuilt = ENCODERS.build(a.config)
    rebuilt.load_state_dict(a.state_dict())
    rebuilt.eval()
    torch.testing.assert_close(rebuilt(x), a(x))
    # Any input length from min_length up works (batch of one included, in eval mode).
    assert a(torch.randn(1, n_leads, max(a.min_length, 64))).shape == (1, a.output_dim)


@pytest.mark.parametrize("name", NAMES)
def test_encoder_rejects_bad_input(name):
    enc = build(name, 12)
    with pytest.raises(ValueError, match="leads"):
        enc(torch.randn(2, 8, 250))
    with pytest.raises(ValueError, match=r"\(batch, leads, time\)"):
        enc(torch.randn(12, 250))
    with pytest.raises(TypeError, match="floating"):
        enc(torch.zeros(2, 12, 250, dtype=torch.int64))
    if enc.min_length > 1:
        with pytest.raises(ValueError, match="shorter"):
            enc(torch.randn(2, 12, enc.min_length - 1))


def test_multibranch_separate_and_shared_weights():
    sep = build("multibranch", 12)
    shared = build("multibranch", 12, shared_weights=True)
    n_sep = sum(p.numel() for p in sep.parameters())
    n_shared = sum(p.numel() for p in shared.parameters())
    assert n_sep == 12 * n_shared
    # Shared weights: permuting the leads permutes the per-lead latents.
    shared.eval()
    x = torch.randn(3, 12, 250)
    perm = torch.randperm(12)
    torch.testing.assert_close(shared.forward_leads(x[:, perm]), shared.forward_leads(x)[:, perm])


def test_multibranch_branches_are_independent():
    """With separate weights, lead i's latent depends on lead i only."""
    enc = build("multibranch", 12)
    enc.eval()
    x = torch.randn(2, 12, 250)
    y = x.clone()
    y[:, 5] += torch.randn(2, 250)
    a, b = enc.forward_leads(x), enc.forward_leads(y)
    changed = (a - b).abs().amax(dim=(0, 2)) > 0
    assert changed.tolist() == [i == 5 for i in range(12)]


@pytest.mark.parametrize("impl", ["loop", "grouped"])
def test_multibranch_layouts_agree(impl):
    ref = build("multibranch", 12, impl="loop")
    other = build("multibranch", 12, impl=impl)
    other.load_state_dict(ref.state_dict())
    ref.eval()
    other.eval()
    x = torch.randn(3, 12, 250)
    torch.testing.assert_close(other.forward_leads(x), ref.forward_leads(x), atol=1e-5, rtol=1e-5)


def test_bad_encoder_config_names_the_field():
    with pytest.raises(ValueError, match="kernel_size"):
        ENCODERS.build("multibranch", n_leads=12, kernel_size=4)
    with pytest.raises(ValueError, match="n_leads"):
        ENCODERS.build("multibranch", n_leads=0)
    with pytest.raises(KeyError, match="resnet1d"):
        ENCODERS.build("resnet1", n_leads=12)
