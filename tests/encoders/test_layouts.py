"""Every multi-branch layout computes the per-lead reference's function: forward, gradients
and BatchNorm running statistics agree to float32 round-off (atol = rtol = 1e-4)."""

from __future__ import annotations

import pytest
import torch

from ecgssl.encoders.multibranch import _IMPLS, MultiBranchEncoder

LAYOUTS = [impl for impl in _IMPLS if impl != "loop"]
TOL = {"atol": 1e-4, "rtol": 1e-4}


def pair(impl: str, shared: bool) -> tuple[MultiBranchEncoder, MultiBranchEncoder]:
    torch.manual_seed(0)
    ref = MultiBranchEncoder(12, per_lead_dim=16, width=4, shared_weights=shared, impl="loop")
    other = MultiBranchEncoder(12, per_lead_dim=16, width=4, shared_weights=shared, impl=impl)
    other.load_state_dict(ref.state_dict())
    return ref, other


@pytest.mark.parametrize("impl", LAYOUTS)
@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("length", [250, 97])  # odd lengths exercise floor pooling
def test_layout_matches_per_lead_reference(impl, shared, length):
    ref, other = pair(impl, shared)
    x = torch.randn(5, 12, length)
    target = torch.randn(5, 12, 16)
    out_ref, out = ref.forward_leads(x), other.forward_leads(x)
    torch.testing.assert_close(out, out_ref, **TOL)
    (out_ref * target).sum().backward()
    (out * target).sum().backward()
    for (name, p_ref), p in zip(ref.named_parameters(), other.parameters()):
        assert p.grad is not None, name
        torch.testing.assert_close(p.grad, p_ref.grad, **TOL, msg=name)
    for (name, b_ref), b in zip(ref.named_buffers(), other.buffers()):
        torch.testing.assert_close(b, b_ref, **TOL, msg=name)
    ref.eval()
    other.eval()
    torch.testing.assert_close(other.forward_leads(x), ref.forward_leads(x), **TOL)


@pytest.mark.parametrize("impl", LAYOUTS)
def test_layout_keeps_branches_independent(impl):
    _, enc = pair(impl, shared=False)
    enc.eval()
    x = torch.randn(2, 12, 128)
    y = x.clone()
    y[:, 7] += 1.0
    changed = (enc.forward_leads(x) - enc.forward_leads(y)).abs().amax(dim=(0, 2)) > 0
    assert changed.tolist() == [i == 7 for i in range(12)]


def test_auto_picks_a_concrete_layout_per_device():
    enc = MultiBranchEncoder(12)
    assert enc._impl_for(torch.device("cpu")) == "channels_last"
    assert enc._impl_for(torch.device("cuda")) == "bmm"
    assert MultiBranchEncoder(12, impl="grouped")._impl_for(torch.device("cuda")) == "grouped"
