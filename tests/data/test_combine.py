"""Combining datasets into one unlabeled pretraining set: train splits only, common rate,
leads and window, prefixed patient ids, the registered ``combined`` spec, the leakage guard."""

from __future__ import annotations

import numpy as np
import pytest

import ecgssl
from ecgssl.data import combine_datasets
from ecgssl.evaluation import LeakageError
from ecgssl.validation import STANDARD_LEADS


def labeled(n=40, fs=100.0, seconds=10, leads=STANDARD_LEADS, name="a"):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, len(leads), int(fs * seconds)))
    split = np.array(["train", "train", "val", "test"] * (n // 4))
    return ecgssl.load_dataset("arrays", signals=x, fs=fs, leads=leads, labels=np.arange(n) % 2,
                               split=split, patient_ids=np.arange(n) // 2, name=name)  # fmt: skip


def test_train_splits_only_ids_prefixed_labels_dropped():
    a, b = labeled(name="a"), labeled(n=8, name="b")
    ds = combine_datasets([a, b])
    assert len(ds) == 20 + 4 and ds.labels is None and (ds.split == "train").all()
    assert ds.patient_ids[0] == "a:0" and ds.record_ids[-1].startswith("b:")
    assert set(ds.record_info["source"].tolist()) == {"a", "b"}
    assert not set(ds.patient_ids[ds.record_info["source"] == "a"]) & set(
        ds.patient_ids[ds.record_info["source"] == "b"]
    )
    assert [s["records"] for s in ds.info["sources"]] == [20, 4]
    same = combine_datasets([a, a])  # the same name twice: made distinct
    assert set(same.record_info["source"].tolist()) == {"a", "a2"}
    both = combine_datasets([a], splits=("train", "val"))
    assert sorted(set(both.split.tolist())) == ["train", "val"] and len(both) == 30


def test_common_rate_leads_and_window():
    a = labeled(fs=100.0, name="a")
    b = labeled(n=8, fs=500.0, seconds=12, leads=("I", "II", "V1"), name="b")
    with pytest.raises(ValueError, match=r"sampled at \[100.0, 500.0\] Hz: pass fs="):
        combine_datasets([a, b])
    with pytest.raises(ValueError, match="pass window="):
        combine_datasets([a, b], fs=100)
    ds = combine_datasets([a, b], fs=100, window=10)
    assert ds.leads == ("I", "II", "V1") and ds.signals.shape == (24, 3, 1000)
    with pytest.raises(ValueError, match=r"dataset 'b' lacks lead\(s\) \['V2'\]"):
        combine_datasets([a, b], fs=100, window=10, leads=["I", "V2"])
    with pytest.raises(ValueError, match="at least one dataset"):
        combine_datasets([])


def test_warns_when_sources_are_scaled_differently():
    a, b = labeled(name="a"), labeled(n=8, name="b")
    b = b.select(np.arange(len(b)))
    object.__setattr__(b, "signals", b.signals * 1000)
    with pytest.warns(UserWarning, match="amplitudes differ"):
        combine_datasets([a, b])


def test_registered_spec_and_pretraining_with_the_leakage_guard(tmp_path):
    a = labeled(name="a")
    path = tmp_path / "ptb.npz"
    np.savez(path, X=a.signals, y=a.labels, strat_fold=np.arange(40) % 10 + 1,
             patient_id=np.arange(40), fs=100, leads=np.array(STANDARD_LEADS))  # fmt: skip
    spec = {"name": "combined", "datasets": [{"name": "npz", "root": str(path)}, a]}
    ds = ecgssl.load_dataset(spec)
    npz_part = ds.record_info["source_dataset"] == "ptb"
    assert npz_part.sum() == 32 and (~npz_part).sum() == 20
    with pytest.raises(ValueError, match="needs datasets="):
        ecgssl.load_dataset({"name": "combined", "datasets": {"name": "npz"}})
    enc = ecgssl.build_encoder({"name": "multibranch", "width": 4, "per_lead_dim": 8}, 12)
    from ecgssl.evaluation.leakage import check_leakage, record_provenance

    target = ecgssl.load_dataset("npz", root=path).subset("test")
    record_provenance(enc, ds)
    assert check_leakage(enc, target) == 0  # train folds only: no overlap with fold 10
    leaky = combine_datasets([ecgssl.load_dataset("npz", root=path)], splits=("train", "test"))
    record_provenance(enc, leaky)
    with pytest.raises(LeakageError, match="shares"):
        check_leakage(enc, target)


def test_real_ptbxl_plus_hce(shared, shared_file):
    spec = {"name": "combined", "datasets": [
        {"name": "npz", "root": str(shared_file("ptbxl_super_100hz_dev.npz"))},
        {"name": "hce", "root": str(shared("hce")), "split_method": "all_train", "n_jobs": 1},
    ]}  # fmt: skip
    ds = ecgssl.load_dataset(spec, progress=False)
    assert len(ds) == 1282 + 1289 and ds.fs == 100 and ds.leads == STANDARD_LEADS
    src = ds.record_info["source_dataset"]
    assert (src == "hce").sum() == 1289
    assert len(np.unique(ds.patient_ids[src == "hce"])) == 72
