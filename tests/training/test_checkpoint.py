"""Checkpoint contents, exact mid-epoch resume, safe loading and compatibility checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgssl.augment import Compose, TwoViews
from ecgssl.data.base import ECGDataset
from ecgssl.registry import AUGMENTATIONS, ENCODERS, METHODS
from ecgssl.training import (
    CheckpointMismatchError,
    Pretrainer,
    atomic_torch_save,
    find_checkpoints,
    latest_valid_checkpoint,
    load_checkpoint,
    load_encoder,
)

FS = 50.0
LEADS = ("I", "II", "V1")


def signals(n: int = 24, leads: int = 3, t: int = 100) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.sin(2 * torch.pi * 1.2 * torch.arange(t) / FS) + 0.3 * torch.randn(
        n, leads, t, generator=g
    )


def trainer(tmp_path=None, per_lead_dim: int = 8, **kw) -> Pretrainer:
    torch.manual_seed(0)
    enc = ENCODERS.build("multibranch", n_leads=3, per_lead_dim=per_lead_dim, width=4)
    views = TwoViews(Compose([
        AUGMENTATIONS.build({"name": "random_crop", "seconds": 1.5}),
        AUGMENTATIONS.build("gaussian_noise"),
    ]))  # fmt: skip
    ckpt = {"checkpoint_dir": tmp_path, "checkpoint_every": 1, "keep_last": 20} if tmp_path else {}
    options = {"epochs": 2, "batch_size": 4, "progress": False, "device": "cpu", **ckpt, **kw}
    return Pretrainer(METHODS.build("bell", encoder=enc), views, **options)


def weights(result) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in result.method.state_dict().items()}


def dataset() -> ECGDataset:
    info = {"preprocessing": {"bandpass_hz": [0.5, 40.0]}, "normalisation": "per-lead z-score"}
    return ECGDataset(signals=signals().numpy(), fs=FS, leads=LEADS, name="tiny", info=info)


def test_checkpoint_describes_the_run(tmp_path):
    trainer(tmp_path, checkpoint_every_steps=4, metadata={"note": "x"}).fit(dataset())
    ck = load_checkpoint(find_checkpoints(tmp_path)[-1])
    assert ck["method"] == {"name": "bell", "hparams": ck["method"]["hparams"]}
    assert ck["method"]["hparams"]["gamma"] == 0.8
    assert ck["encoder"]["name"] == "multibranch" and ck["encoder"]["per_lead_dim"] == 8
    assert ck["signal"]["fs"] == FS and ck["signal"]["leads"] == list(LEADS)
    assert ck["signal"]["window_samples"] == 75 and ck["signal"]["window_seconds"] == 1.5
    assert ck["preprocessing"] == {"bandpass_hz": [0.5, 40.0]}
    assert ck["normalisation"] == "per-lead z-score"
    assert ck["ecgssl_version"] and ck["torch_version"] and "RandomCrop" in ck["augmentation"]
    assert (ck["epoch"], ck["step"], ck["batch_in_epoch"], ck["steps_per_epoch"]) == (2, 12, 0, 6)
    assert ck["optimizer"]["name"] == "adamw" and ck["optimizer"]["state"]["state"]
    assert ck["scheduler"]["name"] == "warmup_cosine" and ck["scheduler"]["total_steps"] == 12
    assert 0.996 <= ck["ema"]["momentum"] <= 1.0 and ck["ema"]["n_targets"] == 2
    assert any(k.startswith("targets.") for k in ck["method_state"])  # the EMA target weights
    assert set(ck["rng"]) == {"torch", "cuda", "augment", "batches_epoch_start"}
    assert ck["config"]["checkpoint_every_steps"] == 4 and ck["metadata"] == {"note": "x"}
    names = [p.name for p in find_checkpoints(tmp_path)]
    assert names == [
        "ckpt-epoch0000-step00000004.pt", "ckpt-epoch0001-step00000006.pt",
        "ckpt-epoch0001-step00000008.pt", "ckpt-epoch0002-step00000012.pt",
    ]  # fmt: skip
    mid = load_checkpoint(tmp_path / names[2])
    assert (mid["epoch"], mid["step"], mid["batch_in_epoch"]) == (1, 8, 2)
    assert mid["epoch_progress"]["n_steps"] == 2


@pytest.mark.parametrize("which", [0, 2])  # mid-epoch 1 (step 4) and mid-epoch 2 (step 8)
def test_resume_from_a_mid_epoch_checkpoint_is_exact(tmp_path, which):
    full = trainer(tmp_path / "a", checkpoint_every_steps=4).fit(signals(), fs=FS)
    start = find_checkpoints(tmp_path / "a")[which]
    resumed = trainer(tmp_path / "b", resume=start).fit(signals(), fs=FS)
    assert resumed.resumed_from == start
    for k, v in weights(full).items():
        torch.testing.assert_close(weights(resumed)[k], v, atol=0, rtol=0, msg=k)
    for a, b in zip(full.history, resumed.history):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-6)


def test_keep_last_prunes_oldest(tmp_path):
    trainer(tmp_path, checkpoint_every_steps=1, keep_last=3).fit(signals(), fs=FS)
    assert [load_checkpoint(p)["step"] for p in find_checkpoints(tmp_path)] == [10, 11, 12]


class _Payload:
    """Unpickling this would create a file: a stand-in for arbitrary code execution."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_loading_never_runs_code_from_the_file(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "ckpt-epoch0001-step00000001.pt"
    torch.save({"format": 2, "payload": _Payload(str(marker))}, path)
    with pytest.raises(ValueError, match="corrupt or unreadable"):
        load_checkpoint(path)
    with pytest.warns(RuntimeWarning, match="skipping unreadable"):
        assert latest_valid_checkpoint(tmp_path) is None
    assert not marker.exists()


def test_foreign_and_incomplete_files_are_refused(tmp_path):
    atomic_torch_save({"weights": torch.zeros(2)}, tmp_path / "a.pt")
    with pytest.raises(ValueError, match="not an ecgssl checkpoint of format 2"):
        load_checkpoint(tmp_path / "a.pt")
    atomic_torch_save({"format": 2, "epoch": 1}, tmp_path / "b.pt")
    with pytest.raises(ValueError, match="incomplete: missing"):
        load_checkpoint(tmp_path / "b.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "none.pt")


def test_all_checkpoints_corrupt_means_a_fresh_start_with_warnings(tmp_path):
    first = trainer(tmp_path, epochs=1).fit(signals(), fs=FS)
    for p in find_checkpoints(tmp_path):
        p.write_bytes(b"not a zip file")
    (tmp_path / ".ckpt-epoch0009-step00000054.pt.abc.tmp").write_bytes(b"partial")
    with pytest.warns(RuntimeWarning) as record:
        again = trainer(tmp_path, epochs=1, resume="auto").fit(signals(), fs=FS)
    messages = " ".join(str(w.message) for w in record)
    assert "skipping unreadable checkpoint" in messages and "removed 1 partial" in messages
    assert again.resumed_from is None
    for k, v in weights(first).items():
        torch.testing.assert_close(weights(again)[k], v, atol=0, rtol=0)


def test_load_encoder_rebuilds_and_checks(tmp_path):
    result = trainer(tmp_path, epochs=1).fit(signals(), fs=FS, leads=list(LEADS))
    path = result.checkpoint_path
    enc = load_encoder(path, fs=FS, leads=LEADS, encoder=result.encoder.config)
    x = signals(n=2)
    torch.testing.assert_close(enc(x), result.encoder.eval()(x))
    with pytest.raises(CheckpointMismatchError, match=r"checkpoint fs 50.0 != requested fs 100"):
        load_encoder(path, fs=100)
    with pytest.raises(
        CheckpointMismatchError,
        match=r"lead order \['I', 'II', 'V1'\] != requested lead order \['II', 'I', 'V1'\]",
    ):
        load_encoder(path, leads=["II", "I", "V1"])
    other = {**result.encoder.config, "per_lead_dim": 16}
    with pytest.raises(CheckpointMismatchError, match="per_lead_dim: checkpoint 8 != requested 16"):
        load_encoder(path, encoder=other)


def test_resume_refuses_other_fs_lead_order_or_data(tmp_path):
    trainer(tmp_path, epochs=1).fit(signals(), fs=FS, leads=list(LEADS))
    resume = {"resume": "auto", "epochs": 2}
    with pytest.raises(
        CheckpointMismatchError, match=r"checkpoint fs 50\.0 != requested fs 100\.0"
    ):
        trainer(tmp_path, **resume).fit(signals(), fs=100.0, leads=list(LEADS))
    with pytest.raises(CheckpointMismatchError, match=r"lead order .* != requested lead order"):
        trainer(tmp_path, **resume).fit(signals(), fs=FS, leads=["V1", "II", "I"])
    with pytest.raises(CheckpointMismatchError, match="6 batches per epoch, this run has 4"):
        trainer(tmp_path, **resume).fit(signals(n=16), fs=FS, leads=list(LEADS))
    with pytest.raises(CheckpointMismatchError, match=r"gamma: checkpoint 0\.8 != requested 0\.5"):
        t = trainer(tmp_path, **resume)
        t.method._remember(gamma=0.5)
        t.fit(signals(), fs=FS, leads=list(LEADS))


def test_changed_settings_on_resume_are_warned_about(tmp_path):
    trainer(tmp_path, epochs=1).fit(signals(), fs=FS)
    with pytest.warns(RuntimeWarning, match=r"changed settings \(epochs: 1 -> 2, lr"):
        trainer(tmp_path, epochs=2, lr=1e-2, resume="auto").fit(signals(), fs=FS)


def test_metadata_that_cannot_be_loaded_safely_is_refused_up_front():
    with pytest.raises(TypeError, match=r"metadata\['bad'\] holds a object"):
        trainer(metadata={"bad": object()})
    t = trainer(metadata={"n": np.int64(3), "a": np.arange(2)})
    assert t.metadata == {"n": 3, "a": [0, 1]}


def test_a_failed_save_warns_and_training_goes_on(tmp_path, monkeypatch):
    import errno

    import ecgssl.training.checkpoint as checkpoint_module

    real_save, calls = torch.save, []

    def full_disk(obj, f, *a, **kw):
        calls.append(1)
        if len(calls) == 2:  # the second checkpoint meets a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(obj, f, *a, **kw)

    monkeypatch.setattr(checkpoint_module.torch, "save", full_disk)
    with pytest.warns(RuntimeWarning, match=r"could not write a checkpoint at step 6 \(.*No space"):
        result = trainer(tmp_path, checkpoint_every_steps=4).fit(signals(), fs=FS)
    monkeypatch.undo()
    steps = [load_checkpoint(p)["step"] for p in find_checkpoints(tmp_path)]
    assert steps == [4, 8, 12] and len(result.history) == 2
    assert not list(tmp_path.glob(".ckpt-*.tmp"))


def test_mid_epoch_resume_on_a_loader_skips_trained_batches_with_a_warning(tmp_path):
    data = torch.utils.data.TensorDataset(signals())
    loader = torch.utils.data.DataLoader(data, batch_size=4, shuffle=False)
    full = trainer(tmp_path / "a", checkpoint_every_steps=4).fit(loader, fs=FS)
    start = find_checkpoints(tmp_path / "a")[0]  # step 4, mid-epoch 1
    with pytest.warns(RuntimeWarning, match="skipping 4 batches"):
        resumed = trainer(tmp_path / "b", resume=start).fit(loader, fs=FS)
    for k, v in weights(full).items():  # an unshuffled loader is deterministic: exact again
        torch.testing.assert_close(weights(resumed)[k], v, atol=0, rtol=0, msg=k)


def test_config_accepts_a_torch_device():
    assert trainer(device=torch.device("cpu")).config.device == "cpu"
