"""Activation checkpointing of encoder blocks: the same gradients, BatchNorm statistics and
outputs as the plain forward pass, only where autograd records, and under autocast."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import ecgssl.encoders.checkpointing as checkpointing
from ecgssl.encoders import Encoder, wrap_model
from ecgssl.registry import ENCODERS

SPECS = [
    *({"name": "multibranch", "width": 4, "per_lead_dim": 8, "impl": impl}
      for impl in ("channels_last", "bmm", "grouped", "loop")),
    {"name": "multibranch", "width": 4, "per_lead_dim": 8, "shared_weights": True},
    {"name": "resnet1d", "width": 8, "depth": [1, 1]},
    {"name": "inception1d", "filters": 4, "depth": 3},
]  # fmt: skip


def pair(spec: dict) -> tuple[Encoder, Encoder]:
    """The same encoder twice: plain, and with checkpointing on."""
    torch.manual_seed(0)
    plain = ENCODERS.build(spec, n_leads=12)
    assert isinstance(plain, Encoder)
    return plain, copy.deepcopy(plain).set_checkpointing(True)


def step(enc: Encoder, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    enc.train()
    enc.zero_grad(set_to_none=True)
    y = enc(x)
    (y.pow(2).mean() + y.mean()).backward()
    return y.detach(), [p.grad.clone() for p in enc.parameters()]  # type: ignore[union-attr]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s['name']}-{s.get('impl', '')}")
def test_checkpointing_gives_the_same_gradients(spec, one_thread):
    plain, ckpt = pair(spec)
    x = torch.randn(4, 12, 256, generator=torch.Generator().manual_seed(1))
    for _ in range(2):  # twice: running statistics after two steps match as well
        y0, g0 = step(plain, x)
        y1, g1 = step(ckpt, x)
    torch.testing.assert_close(y1, y0, rtol=1e-6, atol=1e-7)
    for a, b in zip(g1, g0):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    # The recomputation in backward leaves BatchNorm's running statistics alone.
    for (name, a), b in zip(ckpt.named_buffers(), plain.buffers()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


@pytest.mark.parametrize("name", ["multibranch", "resnet1d"])
def test_checkpointing_under_bf16_autocast(name, one_thread):
    spec = next(s for s in SPECS if s["name"] == name)
    plain, ckpt = pair(spec)
    x = torch.randn(2, 12, 64, generator=torch.Generator().manual_seed(2))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y0, g0 = step(plain, x)
        y1, g1 = step(ckpt, x)
    assert y1.dtype == torch.bfloat16  # the recomputation ran under autocast too
    torch.testing.assert_close(y1, y0, rtol=0, atol=0)
    for a, b in zip(g1, g0):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_checkpointing_only_where_autograd_records(monkeypatch):
    _, enc = pair(SPECS[0])
    calls: list[int] = []
    real = checkpointing.checkpointed

    def spy(fn, module, *args):
        calls.append(1)
        return real(fn, module, *args)

    monkeypatch.setattr("ecgssl.encoders.base.checkpointed", spy)
    x = torch.randn(2, 12, 64)
    enc.train()
    with torch.no_grad():  # an EMA target's forward
        enc(x)
    enc.eval()  # embedding
    enc(x)
    assert calls == []
    enc.train()
    enc(x)
    assert len(calls) == len(enc.blocks)  # type: ignore[arg-type]
    enc.set_checkpointing(False)
    enc(x)
    assert len(calls) == len(enc.blocks) and not enc.checkpointing  # type: ignore[arg-type]


def test_checkpointing_saves_activation_memory():
    """Fewer bytes saved for backward: only the blocks' inputs (counted with saved-tensor
    hooks, independent of the allocator)."""
    plain, ckpt = pair(SPECS[0])
    x = torch.randn(8, 12, 512)

    def saved_bytes(enc: Encoder) -> int:
        total = 0

        def pack(t: torch.Tensor) -> torch.Tensor:
            nonlocal total
            total += t.numel() * t.element_size()
            return t

        enc.train()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            enc(x).sum().backward()
        return total

    assert saved_bytes(ckpt) < saved_bytes(plain) / 3


def test_unsupported_encoder_refuses_checkpointing():
    enc = wrap_model(nn.Sequential(nn.Conv1d(3, 4, 3), nn.AdaptiveAvgPool1d(1), nn.Flatten()),
                     output_dim=4, n_leads=3, fs=100.0)  # fmt: skip
    assert not enc.supports_checkpointing
    with pytest.raises(TypeError, match="does not support activation checkpointing"):
        enc.set_checkpointing(True)
    enc.set_checkpointing(False)  # turning it off is always fine
    with pytest.raises(TypeError, match="True or False"):
        ENCODERS.build("multibranch", n_leads=3).set_checkpointing("yes")  # type: ignore[arg-type]
