"""The shared training loop: history, checkpoints, resume, and input errors."""

from __future__ import annotations

import pytest
import torch

from ecgssl.augment import Compose, TwoViews
from ecgssl.registry import AUGMENTATIONS, ENCODERS, METHODS
from ecgssl.training import NonFiniteLossError, Pretrainer, find_checkpoints, load_checkpoint

FS = 50.0


def signals(n: int = 24, leads: int = 3, t: int = 100, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    time = torch.arange(t) / FS
    base = torch.sin(2 * torch.pi * 1.2 * time)
    return base + 0.3 * torch.randn(n, leads, t, generator=g)


def views() -> TwoViews:
    return TwoViews(Compose([
        AUGMENTATIONS.build({"name": "random_crop", "seconds": 1.5}),
        AUGMENTATIONS.build("gaussian_noise"),
    ]))  # fmt: skip


def method(name: str = "bell", leads: int = 3, seed: int = 0):
    torch.manual_seed(seed)
    enc = ENCODERS.build("multibranch", n_leads=leads, per_lead_dim=8, width=4)
    return METHODS.build(name, encoder=enc)


def fit(tmp_path=None, epochs: int = 3, **kw):
    ckpt = {"checkpoint_dir": tmp_path, "checkpoint_every": 1, "keep_last": 10} if tmp_path else {}
    options = {"epochs": epochs, "batch_size": 8, "progress": False, "device": "cpu", **ckpt, **kw}
    return Pretrainer(method(), views(), **options).fit(signals(), fs=FS)


def state(result):
    return {k: v.clone() for k, v in result.method.state_dict().items()}


@pytest.mark.parametrize("name", ["bell", "byol", "simclr"])
def test_fit_produces_history(name):
    trainer = Pretrainer(method(name), views(), epochs=2, batch_size=8, progress=False,
                         device="cpu")  # fmt: skip
    result = trainer.fit(signals(), fs=FS)
    assert [h["epoch"] for h in result.history] == [1, 2]
    for h in result.history:
        assert torch.isfinite(torch.tensor(h["loss"]))
        assert h["samples_per_s"] > 0 and h["seconds"] > 0 and h["lr"] > 0
    assert not result.encoder.training
    assert result.checkpoint_path is None


def test_same_seed_same_weights():
    a, b = fit(epochs=2), fit(epochs=2)
    for k, v in state(a).items():
        torch.testing.assert_close(v, state(b)[k], atol=0, rtol=0)


def test_checkpoints_are_self_describing_and_pruned(tmp_path):
    result = fit(tmp_path, epochs=3, keep_last=2)
    ckpts = find_checkpoints(tmp_path)
    assert [p.name for p in ckpts] == [
        "ckpt-epoch0002-step00000006.pt",
        "ckpt-epoch0003-step00000009.pt",
    ]
    assert result.checkpoint_path == ckpts[-1]
    ck = load_checkpoint(ckpts[-1])
    assert ck["method"]["name"] == "bell" and ck["method"]["hparams"]["gamma"] == 0.8
    assert ck["encoder"]["name"] == "multibranch"
    assert ck["signal"]["fs"] == FS and ck["epoch"] == 3 and len(ck["history"]) == 3
    assert not list(tmp_path.glob("*.tmp"))


def test_resume_equals_uninterrupted_run(tmp_path):
    full = fit(tmp_path / "full", epochs=4)
    # Resume from the epoch-2 checkpoint of the same run and finish the remaining epochs.
    resumed = fit(tmp_path / "again", epochs=4, resume=find_checkpoints(tmp_path / "full")[1])
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4]
    for k, v in state(full).items():
        torch.testing.assert_close(state(resumed)[k], v, atol=1e-6, rtol=0)


def test_resume_auto_skips_a_truncated_checkpoint(tmp_path):
    full = fit(tmp_path, epochs=2)
    previous, newest = find_checkpoints(tmp_path)
    newest.write_bytes(newest.read_bytes()[:100])
    with pytest.warns(RuntimeWarning, match="unreadable checkpoint"):
        result = fit(tmp_path, epochs=2, resume="auto")
    assert result.resumed_from == previous  # fell back to epoch 1 and redid epoch 2
    assert [h["epoch"] for h in result.history] == [1, 2]
    for k, v in state(full).items():
        torch.testing.assert_close(state(result)[k], v, atol=1e-6, rtol=0)


def test_resume_refuses_a_different_encoder(tmp_path):
    fit(tmp_path, epochs=1)
    torch.manual_seed(0)
    enc = ENCODERS.build("multibranch", n_leads=3, per_lead_dim=16, width=4)
    trainer = Pretrainer(METHODS.build("bell", encoder=enc), views(), epochs=2, batch_size=8,
                         progress=False, device="cpu", checkpoint_dir=tmp_path, resume="auto")  # fmt: skip
    with pytest.raises(ValueError, match="encoder"):
        trainer.fit(signals(), fs=FS)


def test_bad_inputs_raise_clear_errors():
    trainer = Pretrainer(method(), views(), epochs=1, batch_size=8, progress=False, device="cpu")
    bad = signals()
    bad[3, 1, 10] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        trainer.fit(bad, fs=FS)
    with pytest.raises(ValueError, match="leads"):
        trainer.fit(signals(leads=5), fs=FS)
    with pytest.raises(ValueError, match="samples"):
        trainer.fit(signals(t=60), fs=FS)  # 1.2 s records, 1.5 s crop
    with pytest.raises(ValueError, match="batch_size"):
        Pretrainer(method(), views(), batch_size=64, progress=False).fit(signals(), fs=FS)
    with pytest.raises(ValueError, match="fs"):
        trainer.fit(signals())
    with pytest.raises(TypeError, match="unknown Pretrainer option"):
        Pretrainer(method(), views(), learning_rate=0.1)


class _NaNAfter:
    def __init__(self, inner, after: int) -> None:
        self.inner, self.after, self.calls = inner, after, 0

    def __call__(self, v1, v2):
        self.calls += 1
        out = self.inner(v1, v2)
        if self.calls > self.after:
            out["loss"] = out["loss"] * float("nan")
        return out


def test_nan_loss_stops_or_skips(tmp_path):
    m = method()
    m.training_step = _NaNAfter(m.training_step, after=4)  # type: ignore[method-assign]
    trainer = Pretrainer(m, views(), epochs=3, batch_size=8, progress=False, device="cpu",
                         checkpoint_dir=tmp_path, checkpoint_every=1)  # fmt: skip
    with pytest.raises(NonFiniteLossError, match=r"step 4.*ckpt-epoch0001"):
        trainer.fit(signals(), fs=FS)
    m = method()
    m.training_step = _NaNAfter(m.training_step, after=4)  # type: ignore[method-assign]
    trainer = Pretrainer(m, views(), epochs=3, batch_size=8, progress=False, device="cpu",
                         nan_policy="skip")  # fmt: skip
    assert trainer.fit(signals(), fs=FS).skipped_batches == 5


def test_dataloader_input():
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(signals()), batch_size=8)
    trainer = Pretrainer(method(), views(), epochs=1, batch_size=8, progress=False, device="cpu")
    assert len(trainer.fit(loader, fs=FS).history) == 1


@pytest.mark.slow
def test_compile_trains_like_eager():
    """compile=True runs the same step through torch.compile: same losses up to float noise."""
    import shutil

    if shutil.which("g++") is None and shutil.which("c++") is None:
        pytest.skip("torch.compile on CPU needs a C++ compiler (none on PATH)")
    histories = []
    for compiled in (False, True):
        trainer = Pretrainer(method(), views(), epochs=2, batch_size=8, progress=False,
                             device="cpu", compile=compiled)  # fmt: skip
        histories.append([h["loss"] for h in trainer.fit(signals(), fs=FS).history])
    assert histories[1] == pytest.approx(histories[0], rel=1e-3)


def test_compile_must_be_a_bool():
    with pytest.raises(ValueError, match="compile must be True or False"):
        Pretrainer(method(), views(), compile="yes")
