"""Mixed precision in the training loop: bfloat16 autocast on CPU (forced, and chosen by
amp="auto" from ``cpu_bf16_status``), with float32 weights, EMA targets and losses."""

from __future__ import annotations

import json
import math

import pytest
import torch

import ecgssl.precision as precision
from ecgssl.augment import Compose, TwoViews
from ecgssl.precision import CpuBf16Status
from ecgssl.registry import AUGMENTATIONS, ENCODERS, METHODS
from ecgssl.training import Pretrainer, find_checkpoints, load_checkpoint

FS = 50.0


def signals(n: int = 16, leads: int = 3, t: int = 100) -> torch.Tensor:
    return torch.randn(n, leads, t, generator=torch.Generator().manual_seed(0))


def views() -> TwoViews:
    return TwoViews(Compose([
        AUGMENTATIONS.build({"name": "random_crop", "seconds": 1.5}),
        AUGMENTATIONS.build("gaussian_noise"),
    ]))  # fmt: skip


def trainer(name: str, amp: bool | str, **kw) -> tuple[Pretrainer, list[tuple]]:
    """A 2-step run of a tiny multi-branch ``name``; the list fills with what every training
    step saw: (autocast enabled, autocast dtype, encoder output dtype, loss dtype)."""
    torch.manual_seed(0)
    enc = ENCODERS.build("multibranch", n_leads=3, per_lead_dim=8, width=4)
    method = METHODS.build(name, encoder=enc)
    seen: list[tuple] = []
    out_dtypes: list[torch.dtype] = []
    forward_leads, step = enc.forward_leads, method.training_step

    def spy_leads(x):
        out = forward_leads(x)
        out_dtypes.append(out.dtype)
        return out

    enc.forward_leads = spy_leads  # type: ignore[method-assign]

    def spy(v1, v2, **kwargs):
        out_dtypes.clear()
        out = step(v1, v2, **kwargs)
        seen.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu"),
                     set(out_dtypes), out["loss"].dtype))  # fmt: skip
        return out

    method.training_step = spy  # type: ignore[method-assign]
    options = {"steps": 2, "batch_size": 8, "progress": False, "device": "cpu", "amp": amp}
    return Pretrainer(method, views(), **{**options, **kw}), seen


@pytest.mark.parametrize("name", ["bell", "byol"])
def test_forced_bf16_trains_with_float32_weights(monkeypatch, tmp_path, name):
    """amp=True forces bf16 autocast on any CPU (slow where emulated; this encoder is tiny)."""
    monkeypatch.setattr(precision, "cpu_bf16_status", lambda: CpuBf16Status(False, "slow"))
    t, seen = trainer(name, True, checkpoint_dir=tmp_path, log_dir=tmp_path / "logs")
    before = {k: v.clone() for k, v in t.method.state_dict().items()}
    with pytest.warns(RuntimeWarning, match="amp=True forces bfloat16"):
        result = t.fit(signals(), fs=FS)
    assert seen == [(True, torch.bfloat16, {torch.bfloat16}, torch.float32)] * 2
    assert math.isfinite(result.final_loss)
    after = result.method.state_dict()
    for k, v in after.items():
        if v.is_floating_point():
            assert v.dtype == torch.float32, k  # weights, BN statistics, EMA targets
    changed = [k for k, v in before.items() if v.is_floating_point() and not v.equal(after[k])]
    assert any(k.startswith("encoder.") for k in changed)
    if result.method.uses_momentum:
        assert any(k.startswith("targets.") for k in changed)  # the EMA moved too
    opt_state = load_checkpoint(find_checkpoints(tmp_path)[-1])["optimizer"]["state"]["state"]
    assert all(s["exp_avg"].dtype == torch.float32 for s in opt_state.values())
    assert result.precision == "bf16"
    ckpt = load_checkpoint(result.checkpoint_path)
    assert ckpt["precision"]["autocast"] == "bf16" and "amp=True" in ckpt["precision"]["reason"]
    start = json.loads((tmp_path / "logs" / "log.jsonl").read_text().splitlines()[0])
    assert start["event"] == "start" and start["precision"] == "bf16"


@pytest.mark.parametrize("fast", [True, False])
def test_auto_uses_what_the_status_says(monkeypatch, fast):
    monkeypatch.setattr(precision, "cpu_bf16_status", lambda: CpuBf16Status(fast, "patched"))
    t, seen = trainer("bell", "auto")
    result = t.fit(signals(), fs=FS)
    if fast:
        assert seen == [(True, torch.bfloat16, {torch.bfloat16}, torch.float32)] * 2
    else:
        assert [(s[0], s[2]) for s in seen] == [(False, {torch.float32})] * 2
    assert result.precision == ("bf16" if fast else "fp32")


def test_false_is_off_without_asking_the_cpu(monkeypatch):
    def fail() -> CpuBf16Status:
        raise AssertionError("amp=False must not run the bf16 check")

    monkeypatch.setattr(precision, "cpu_bf16_status", fail)
    t, seen = trainer("bell", False)
    assert t.fit(signals(), fs=FS).precision == "fp32"
    assert [s[0] for s in seen] == [False, False]


def test_resume_warns_when_auto_decides_differently(monkeypatch, tmp_path):
    """amp="auto" in both runs, but the checkpoint was trained in bf16 and this machine
    says fp32: the resumed run will not match, and the warning says why."""
    monkeypatch.setattr(precision, "cpu_bf16_status", lambda: CpuBf16Status(True, "fast"))
    t, _ = trainer("bell", "auto", checkpoint_dir=tmp_path)
    first = t.fit(signals(), fs=FS)
    assert load_checkpoint(first.checkpoint_path)["precision"]["autocast"] == "bf16"
    monkeypatch.setattr(precision, "cpu_bf16_status", lambda: CpuBf16Status(False, "slow"))
    t, _ = trainer("bell", "auto", checkpoint_dir=tmp_path, steps=3, resume="auto")
    with pytest.warns(RuntimeWarning, match="autocast: bf16 -> fp32"):
        assert t.fit(signals(), fs=FS).precision == "fp32"
