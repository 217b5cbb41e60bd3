"""Streamed pretraining: the same batches, hence the same weights, as in-memory training at
the same seed (random crops are taken after reading the full records, like in memory);
exact resume mid-epoch; datasets whose signals are memory-mapped stream by default."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgssl.augment import TwoViews
from ecgssl.data.base import ECGDataset
from ecgssl.data.cache_build import build_signal_cache
from ecgssl.data.streamed import stream_caches
from ecgssl.errors import InvalidValueError
from ecgssl.registry import ENCODERS, METHODS
from ecgssl.training import Pretrainer, find_checkpoints
from ecgssl.training.stream_batches import StreamBatches

FS = 50.0
LEADS = ["I", "II", "V1"]
SETTINGS = {"batch_size": 8, "progress": False, "device": "cpu", "amp": False}


def signals(n: int = 40) -> np.ndarray:
    g = torch.Generator().manual_seed(0)
    t = torch.arange(100) / FS
    return (torch.sin(2 * torch.pi * 1.2 * t) + 0.3 * torch.randn(n, 3, 100, generator=g)).numpy()


def views() -> TwoViews:
    return TwoViews([{"name": "random_crop", "seconds": 1.5}, "gaussian_noise"])


def method(name: str = "simclr"):
    torch.manual_seed(0)
    enc = ENCODERS.build("multibranch", n_leads=3, per_lead_dim=8, width=4)
    return METHODS.build(name, encoder=enc)


def state(result) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in result.method.state_dict().items()}


def assert_same(a, b) -> None:
    sa, sb = state(a), state(b)
    assert sa.keys() == sb.keys()
    for k, v in sa.items():
        assert torch.equal(v, sb[k]), k


@pytest.fixture
def cache(tmp_path):
    x = signals()
    return build_signal_cache(tmp_path / "cache", lambda a, b: x[a:b], len(x), fs=FS,
                              leads=LEADS, length=100, chunk_records=16, progress=False)  # fmt: skip


@pytest.mark.parametrize("name", ["simclr", "byol"])
def test_streamed_run_equals_in_memory_run(cache, name):
    memory = Pretrainer(method(name), views(), epochs=2, **SETTINGS).fit(
        torch.from_numpy(signals()), fs=FS, leads=LEADS
    )
    streamed = Pretrainer(method(name), views(), epochs=2, **SETTINGS).fit(stream_caches([cache]))
    assert_same(memory, streamed)
    assert [h["loss"] for h in memory.history] == [h["loss"] for h in streamed.history]
    assert streamed.signal["leads"] == LEADS and streamed.signal["n_records"] == 40


def test_stream_option_on_arrays_and_memory_mapped_datasets(tmp_path):
    x = signals()
    path = tmp_path / "x.npy"
    np.save(path, x)
    split = np.array(["train", "val"] * 20)
    pids = np.repeat(np.arange(20), 2).astype(str)
    mapped = ECGDataset(np.load(path, mmap_mode="r"), fs=FS, leads=tuple(LEADS), split=split,
                        patient_ids=pids)  # fmt: skip
    loaded = ECGDataset(x, fs=FS, leads=tuple(LEADS), split=split, patient_ids=pids)
    # clocs uses patient ids: they must follow the records in both paths
    runs = {
        "memory": Pretrainer(method("clocs"), views(), epochs=2, **SETTINGS).fit(loaded),
        "mapped": Pretrainer(method("clocs"), views(), epochs=2, **SETTINGS).fit(mapped),
        "forced": Pretrainer(method("clocs"), views(), epochs=2, stream=True, **SETTINGS).fit(loaded),
    }  # fmt: skip
    for name in ("mapped", "forced"):
        assert_same(runs["memory"], runs[name])
    # the leads argument selects and reorders the streamed leads like the in-memory path
    sel = {"epochs": 1, **SETTINGS}
    enc = {"name": "multibranch", "n_leads": 2, "per_lead_dim": 8, "width": 4}
    torch.manual_seed(0)
    a = Pretrainer(
        METHODS.build("simclr", encoder=ENCODERS.build(enc)), views(), stream=False, **sel
    )
    torch.manual_seed(0)
    b = Pretrainer(METHODS.build("simclr", encoder=ENCODERS.build(enc)), views(), **sel)
    assert_same(a.fit(mapped, leads=["V1", "I"]), b.fit(mapped, leads=["V1", "I"]))


def test_streamed_mid_epoch_resume_equals_uninterrupted(cache, tmp_path):
    # 40 records, batch 8: 5 steps per epoch, 2 epochs; checkpoints every 3 steps (3, 6, 9).
    ckpt = {"checkpoint_every_steps": 3, "keep_last": 10}
    full = Pretrainer(method("byol"), views(), epochs=2, checkpoint_dir=tmp_path / "full",
                      **ckpt, **SETTINGS).fit(stream_caches([cache]))  # fmt: skip
    mid = next(p for p in find_checkpoints(tmp_path / "full") if "step00000003" in p.name)
    resumed = Pretrainer(method("byol"), views(), epochs=2, checkpoint_dir=tmp_path / "again",
                         resume=mid, **ckpt, **SETTINGS).fit(stream_caches([cache]))  # fmt: skip
    assert resumed.resumed_from == mid
    assert_same(full, resumed)
    assert [h["loss"] for h in full.history] == [h["loss"] for h in resumed.history]


def test_stream_batches_prefetch_and_shards(cache):
    s = stream_caches([cache])
    ref = StreamBatches(s, 8, True, seed=5, prefetch=0)
    start = ref.get_state()
    batches = [x for x, _ in ref.epoch()]
    assert len(batches) == 5
    pre = StreamBatches(s, 8, True, seed=5, prefetch=2)
    assert all(torch.equal(a, b) for a, (b, _) in zip(batches, pre.epoch(start)))
    halves = []
    for r in (0, 1):
        b = StreamBatches(s, 8, True, seed=5)
        b.shard(r, 2)
        halves.append([x for x, _ in b.epoch(start)])
    for whole, h0, h1 in zip(batches, *halves):
        assert torch.equal(whole, torch.cat([h0, h1]))
    with pytest.raises(InvalidValueError, match="divisible"):
        StreamBatches(s, 8, True, seed=5).shard(0, 3)
    with pytest.raises(InvalidValueError, match="leads"):
        Pretrainer(method(), views(), epochs=1, **SETTINGS).fit(s, leads=["I", "II"])
    with pytest.raises(InvalidValueError, match="fs mismatch"):
        Pretrainer(method(), views(), epochs=1, **SETTINGS).fit(s, fs=100.0)


def test_pretrain_streams_a_memory_mapped_dataset_without_copying_it(tmp_path, monkeypatch):
    import ecgssl
    from ecgssl.evaluation.leakage import provenance

    path = tmp_path / "x.npy"
    np.save(path, signals())
    ids = np.array([f"r{i}" for i in range(40)])
    split = np.array(["train", "test"] * 20)
    mapped = ECGDataset(np.load(path, mmap_mode="r"), fs=FS, leads=tuple(LEADS), split=split,
                        record_ids=ids, name="mapped")  # fmt: skip

    def no_copy(*args, **kwargs):
        raise AssertionError("the train split was copied into memory")

    monkeypatch.setattr(ECGDataset, "subset", no_copy)
    monkeypatch.setattr(ECGDataset, "select", no_copy)
    result = ecgssl.pretrain(
        "simclr", dataset=mapped, encoder={"name": "multibranch", "per_lead_dim": 8, "width": 4},
        epochs=1, batch_size=8, device="cpu", progress=False, window_seconds=1.5,
    )  # fmt: skip
    assert np.isfinite(result.final_loss) and result.signal["n_records"] == 20
    seen = provenance(result.encoder)
    assert seen["n_records"] == 20 and seen["record_ids"] == set(ids[::2].tolist())


def test_cli_stream_flag():
    from ecgssl.cli import build_parser

    parser, _ = build_parser()
    assert parser.parse_args(["pretrain", "--stream"]).stream is True
    assert parser.parse_args(["pretrain", "--no-stream"]).stream is False
    assert parser.parse_args(["pretrain"]).stream is None
