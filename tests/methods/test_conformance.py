"""Every registered SSL method: shape contract, finite loss, one step, seed determinism."""

from __future__ import annotations

import json

import pytest
import torch

from ecgssl.methods import SSLMethod
from ecgssl.registry import ENCODERS, METHODS

METHOD_NAMES = METHODS.list()


def build(name: str, seed: int = 0) -> SSLMethod:
    torch.manual_seed(seed)
    enc = ENCODERS.build("multibranch", n_leads=3, per_lead_dim=16, width=8)
    return METHODS.build(name, encoder=enc)


def batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(8, 3, 120, generator=g), torch.randn(8, 3, 120, generator=g)


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_method_conformance(name):
    method = build(name)
    assert method.name == name
    assert isinstance(method.hparams, dict)
    v1, v2 = batch()
    out = method.training_step(v1, v2)
    loss = out["loss"]
    assert loss.ndim == 0 and torch.isfinite(loss)
    for v in out.values():
        assert torch.isfinite(v).all()

    # One optimisation step changes the online encoder and keeps everything finite.
    before = [p.detach().clone() for p in method.encoder.parameters()]
    opt = torch.optim.SGD(method.online_parameters(), lr=0.05)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if method.uses_momentum:
        method.update_target(0.1)
    changed = any(not torch.equal(b, p) for b, p in zip(before, method.encoder.parameters()))
    assert changed
    assert all(torch.isfinite(p).all() for p in method.parameters())
    assert torch.isfinite(method.training_step(v1, v2)["loss"])

    # The representation keeps the encoder's contract.
    rep = method.encoder(v1)
    assert rep.shape == (8, method.encoder.output_dim)

    # Same seed -> same loss.
    a = build(name, seed=3)
    b = build(name, seed=3)
    torch.manual_seed(9)
    la = a.training_step(v1, v2)["loss"]
    torch.manual_seed(9)
    lb = b.training_step(v1, v2)["loss"]
    assert torch.equal(la, lb)


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_method_targets_are_frozen_copies(name):
    method = build(name)
    for t in method.targets.parameters():
        assert not t.requires_grad
    target_ids = {id(p) for p in method.targets.parameters()}
    assert not target_ids & {id(p) for p in method.online_parameters()}


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_method_rebuilds_from_its_hparams(name):
    # Checkpoints store (name, hparams, state_dict): that must be enough to rebuild the method.
    method = build(name)
    torch.manual_seed(1)
    enc = ENCODERS.build("multibranch", n_leads=3, per_lead_dim=16, width=8)
    rebuilt = METHODS.build(name, encoder=enc, **method.hparams)
    assert rebuilt.hparams == method.hparams
    rebuilt.load_state_dict(method.state_dict())
    json.dumps(method.hparams)  # JSON-serialisable


def test_unknown_method_lists_close_matches():
    with pytest.raises(KeyError, match="bell"):
        METHODS.get("bel")
