"""Mixed precision: the CPU bfloat16 check, what amp=True/False/"auto" resolve to, the
multi-branch layouts in bfloat16 against float32, and autocast in embedding and fine-tuning.

tests/conftest.py pins ``cpu_bf16_status`` to "slow" for the whole suite; ``real_status`` is
the real function, imported before that patch.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import ecgssl.precision as precision
from ecgssl.encoders.multibranch import MultiBranchEncoder
from ecgssl.errors import InvalidValueError
from ecgssl.evaluation import FinetuneConfig, embed, finetune
from ecgssl.precision import CpuBf16Status, resolve_amp
from ecgssl.precision import cpu_bf16_status as real_status

CPU = torch.device("cpu")
LAYOUTS = ("bmm", "channels_last", "grouped", "loop")


pytestmark = pytest.mark.usefixtures("one_thread")


def patch_status(monkeypatch, fast: bool) -> None:
    why = "patched: fast" if fast else "patched: slow"
    monkeypatch.setattr(precision, "cpu_bf16_status", lambda: CpuBf16Status(fast, why))


def test_status_is_a_reasoned_pair_cached_per_process():
    fast, reason = real_status()
    assert isinstance(fast, bool)
    assert "GFLOP/s" in reason and "bf16 matmul" in reason
    assert real_status() is real_status()  # measured once per process
    units = precision._cpu_bf16_units()[0]
    if not units and "no AVX-512 BF16/AMX" in reason:
        assert not fast  # an x86 CPU without the units never gets bf16 autocast from "auto"


def test_resolve_off_and_invalid():
    plan = resolve_amp(False, CPU)
    assert not plan.enabled and plan.label == "fp32"
    with plan.autocast():
        assert not torch.is_autocast_enabled("cpu")
    with pytest.raises(InvalidValueError, match="amp must be"):
        resolve_amp("bf16", CPU)
    with pytest.raises(ValueError, match="amp must be"):
        FinetuneConfig(amp="yes")


@pytest.mark.parametrize("fast", [True, False])
def test_auto_follows_the_status(monkeypatch, caplog, fast):
    patch_status(monkeypatch, fast)
    monkeypatch.setattr(precision, "_logged", set())
    with caplog.at_level(logging.INFO, logger="ecgssl.precision"):
        plan = resolve_amp("auto", CPU)
        resolve_amp("auto", CPU)  # the same decision again: not repeated at INFO
    assert plan.label == ("bf16" if fast else "fp32")
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert infos == [f"bf16 autocast on CPU: {'on' if fast else 'off'} (amp='auto': patched: "
                     f"{'fast' if fast else 'slow'})"]  # fmt: skip
    with plan.autocast():
        assert torch.is_autocast_enabled("cpu") is fast
        if fast:
            assert torch.get_autocast_dtype("cpu") == torch.bfloat16


def test_true_forces_bf16_and_warns_where_slow(monkeypatch):
    patch_status(monkeypatch, False)
    with pytest.warns(RuntimeWarning, match="slow"):
        plan = resolve_amp(True, CPU)
    assert plan.dtype == torch.bfloat16 and not plan.needs_grad_scaler


def layout_error(impl: str, train: bool) -> tuple[float, float]:
    """Relative (Frobenius) error of the bf16-autocast output against float32, and the cosine
    of the parameter gradients, for a small multi-branch encoder in layout ``impl``."""
    torch.manual_seed(0)
    enc = MultiBranchEncoder(3, width=4, impl=impl).train(train)
    x = torch.randn(8, 3, 100, generator=torch.Generator().manual_seed(1))
    outs, grads = [], []
    for bf16 in (False, True):
        enc.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = enc(x)
        (out.float() ** 2).mean().backward()
        outs.append(out.float().detach())
        grads.append(torch.cat([p.grad.flatten() for p in enc.parameters()]))
    rel = float((outs[1] - outs[0]).norm() / outs[0].norm())
    return rel, float(F.cosine_similarity(grads[0], grads[1], dim=0))


# bfloat16 keeps 8 significant bits: one rounding is off by at most 2^-8 = 3.9e-3 (relative),
# about 2.3e-3 rms. Convolutions accumulate in float32, so the error comes from rounding the
# inputs, weights and outputs of each of the ~4 conv layers: ~12 independent roundings add to
# ~8e-3 rms; 2e-2 leaves a 2.5x margin (measured: 3-5e-3 in every layout). Gradients pass
# through BatchNorm's backward, which subtracts the batch mean of the incoming gradient, a
# cancellation that amplifies rounding (measured ~8 % relative at batch 8): what a step needs
# is the direction, so gradients are compared by cosine (measured 0.9966; bound 0.99).
@pytest.mark.parametrize("impl", LAYOUTS)
def test_layouts_in_bf16_match_fp32(impl):
    """Forced autocast: runs on every CPU (emulated bf16 is slow but numerically the same
    format; a tiny encoder keeps it fast)."""
    for train in (False, True):
        rel, cos = layout_error(impl, train)
        assert rel < 2e-2, (impl, train, rel)
        if train:
            assert cos > 0.99, (impl, cos)


@pytest.mark.parametrize("impl", LAYOUTS)
def test_layouts_in_bf16_at_default_width_where_supported(impl):
    fast, reason = real_status()
    if not fast:
        pytest.skip(f"bf16 autocast is off on this CPU: {reason}")
    torch.manual_seed(0)
    enc = MultiBranchEncoder(12, impl=impl).eval()
    x = torch.randn(16, 12, 250, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = enc(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = enc(x).float()
    assert float((out - ref).norm() / ref.norm()) < 2e-2


def test_embed_with_forced_bf16_returns_float32_close_to_fp32(monkeypatch):
    patch_status(monkeypatch, True)  # no warning; the same code path as a fast CPU
    torch.manual_seed(0)
    enc = MultiBranchEncoder(3, width=4)
    x = np.random.default_rng(0).standard_normal((6, 3, 100)).astype(np.float32)
    ref, out = embed(enc, x, device="cpu", amp=False), embed(enc, x, device="cpu", amp="auto")
    assert out.dtype == np.float32 and out.shape == ref.shape
    assert np.linalg.norm(out - ref) / np.linalg.norm(ref) < 2e-2


@pytest.mark.parametrize("fast", [True, False])
def test_finetune_autocast_follows_the_status(monkeypatch, fast):
    patch_status(monkeypatch, fast)
    torch.manual_seed(0)
    enc = MultiBranchEncoder(3, width=4)
    seen: list[tuple[bool, torch.dtype]] = []
    enc.register_forward_hook(
        lambda m, i, o: seen.append((torch.is_autocast_enabled("cpu"), o.dtype))
    )
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 3, 100)).astype(np.float32)
    y = (rng.random((16, 2)) < 0.5).astype(np.float32)
    res = finetune(enc, (x[:12], y[:12]), (x[12:], y[12:]), device="cpu",
                   config=FinetuneConfig(epochs=1, batch_size=6, encoder_lr_ratio=1.0))  # fmt: skip
    assert res.precision == ("bf16" if fast else "fp32")
    expected = (True, torch.bfloat16) if fast else (False, torch.float32)
    assert seen and all(s == expected for s in seen)
    assert all(p.dtype == torch.float32 for p in res.encoder.parameters())
    assert np.isfinite(res.history[0]["loss"])
