"""LUDB: rhythm/diagnosis labels from ludb.csv, hashed patient-wise split; the real database's
facts; an end-to-end pretraining from it."""

import csv
from collections import Counter

import numpy as np
import pytest
import torch

import ecgssl


@pytest.fixture
def ludb_tree(tmp_path, mk):
    root = tmp_path / "ludb"
    rows = [("1", "Sinus rhythm", "Left ventricular hypertrophy"),
            ("2", "Atrial fibrillation\nAberrant conduction", ""),
            ("3", "Sinus bradycardia", "Left ventricular hypertrophy\nLeft atrial overload")]  # fmt: skip
    root.mkdir()
    with open(root / "ludb.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ID", "Sex", "Age", "Rhythms", "Hypertrophies"])
        for rid, rhythm, hyper in rows:
            w.writerow([rid, "F\n", "51\n", rhythm, hyper])
    lower = [n.lower() for n in ecgssl.data.ludb.STANDARD_LEADS]
    for rid, *_ in rows:
        mk.write_wfdb(root / "data", rid, mk.sine_record(12, 5000, 500, seed=int(rid)), 500, lower)
    return root


def test_labels_split_and_metadata(ludb_tree):
    ds = ecgssl.load_dataset("ludb", root=ludb_tree, progress=False)
    assert ds.classes == ("Aberrant conduction", "Atrial fibrillation", "Sinus bradycardia",
                          "Sinus rhythm")  # fmt: skip
    assert ds.labels.tolist() == [[0, 0, 0, 1], [1, 1, 0, 0], [0, 0, 1, 0]]
    assert ds.leads == ecgssl.data.ludb.STANDARD_LEADS and ds.signals.shape == (3, 12, 5000)
    assert (
        ds.patient_ids.tolist() == ["1", "2", "3"] and ds.record_info["sex"].tolist() == ["F"] * 3
    )
    again = ecgssl.load_dataset("ludb", root=ludb_tree, progress=False)
    np.testing.assert_array_equal(ds.split, again.split)
    diag = ecgssl.load_dataset("ludb", root=ludb_tree, task="diagnosis", progress=False)
    assert diag.classes == ("Left atrial overload", "Left ventricular hypertrophy")
    assert diag.labels.tolist() == [[0, 1], [0, 0], [1, 1]]
    with pytest.raises(
        FileNotFoundError, match=r"lacks ludb.csv, data .*physionet.org/content/ludb"
    ):
        ecgssl.load_dataset("ludb", root=ludb_tree / "data")
    for f in (ludb_tree / "data").iterdir():
        f.unlink()
    with pytest.raises(FileNotFoundError, match=r"none of the 3 expected.*content/ludb"):
        ecgssl.load_dataset("ludb", root=ludb_tree, progress=False)


def test_real_database(shared):
    root = shared("ludb")
    ds = ecgssl.load_dataset("ludb", root=root, progress=False)
    assert ds.signals.shape == (200, 12, 5000) and ds.fs == 500.0
    assert ds.leads == ecgssl.data.ludb.STANDARD_LEADS  # from lower-case names in the headers
    sets = Counter(tuple(c for c, v in zip(ds.classes, row) if v) for row in ds.labels)
    assert sets[("Sinus rhythm",)] == 142 and sets[("Sinus bradycardia",)] == 24
    assert sets[("Atrial fibrillation",)] == 14 and sets[("Sinus arrhythmia",)] == 7
    assert sets[("Sinus tachycardia",)] == 4 and sets[("Atrial flutter, typical",)] == 3
    assert sets[("Irregular sinus rhythm",)] == 2
    assert sum(k for s, k in sets.items() if len(s) == 2) == 4
    column = dict(zip(ds.classes, ds.labels.sum(axis=0)))
    assert column["Sinus rhythm"] == 143 and column["Atrial fibrillation"] == 15
    assert len(set(ds.patient_ids)) == 200
    af = ds.classes.index("Atrial fibrillation")  # stratified: every split gets AF records
    assert {s: int(ds.labels[ds.split == s, af].sum()) for s in ("train", "val", "test")} == {
        "train": 11, "val": 2, "test": 2}  # fmt: skip
    assert (ds.split == "train").mean() == pytest.approx(0.7, abs=0.02)
    hashed = ecgssl.load_dataset("ludb", root=root, split_method="hash", progress=False)
    np.testing.assert_array_equal(hashed.split, ecgssl.data.hash_split(hashed.record_ids))
    cached = ecgssl.load_dataset("ludb", root=root, split="val", progress=False)
    assert cached.info["from_cache"] and len(cached) == int((ds.split == "val").sum())


@pytest.mark.slow
def test_pretrain_end_to_end_on_real_ludb(shared):
    full = ecgssl.load_dataset("ludb", root=shared("ludb"), fs=100, progress=False)
    ds = full.select(np.arange(60))  # real records, kept small for a fast CPU test
    torch.manual_seed(0)
    result = ecgssl.pretrain(
        method="bell", dataset=ds, encoder={"name": "multibranch", "width": 4, "per_lead_dim": 8},
        epochs=1, batch_size=16, device="cpu",
    )  # fmt: skip
    assert len(result.history) == 1 and np.isfinite(result.history[-1]["loss"])
    assert result.history[-1]["loss"] > 0
    emb = ecgssl.embed(result.encoder, ds.subset("test").signals, device="cpu")
    assert emb.shape[0] == int((ds.split == "test").sum()) and np.isfinite(emb).all()
