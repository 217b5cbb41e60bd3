"""The ``npz`` loader: keys, folds -> splits, layouts, float16, clear errors; the real
PTB-XL dev archive's facts."""

from __future__ import annotations

import numpy as np
import pytest

import ecgssl
from ecgssl.validation import STANDARD_LEADS


def write(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.fixture
def archive(tmp_path):
    rng = np.random.default_rng(0)
    n = 30
    return write(
        tmp_path / "dev.npz",
        X=rng.normal(size=(n, 12, 200)).astype(np.float16),
        y=(rng.random((n, 3)) < 0.4).astype(np.uint8),
        classes=np.array(["NORM", "MI", "CD"]),
        strat_fold=np.repeat(np.arange(1, 11), 3).astype(np.int8),
        patient_id=np.arange(n) // 2,
        ecg_id=np.arange(100, 100 + n),
        fs=np.array(100),
        leads=np.array(STANDARD_LEADS),
    )


def test_defaults_read_the_dev_archive_layout(archive):
    ds = ecgssl.load_dataset("npz", root=archive)
    assert ds.signals.dtype == np.float32 and ds.signals.shape == (30, 12, 200)
    assert ds.fs == 100.0 and ds.leads == STANDARD_LEADS and ds.classes == ("NORM", "MI", "CD")
    assert ds.name == "dev" and ds.multilabel and ds.labels.shape == (30, 3)
    # Default: highest fold test, next val, the rest train; not re-standardised.
    assert ds.split[ds.record_info["fold"] == 10].tolist() == ["test"] * 3
    assert ds.split[ds.record_info["fold"] == 9].tolist() == ["val"] * 3
    assert (ds.split[ds.record_info["fold"] <= 8] == "train").all()
    raw = np.load(archive)["X"].astype(np.float32)
    np.testing.assert_array_equal(ds.signals, raw)
    assert ds.patient_ids[:3].tolist() == ["0", "0", "1"] and ds.record_ids[0] == "100"


def test_fold_mapping_drops_unlisted_folds(archive):
    ds = ecgssl.load_dataset("npz", root=archive, train_folds=[1, 2, 3, 4, 5, 6, 7],
                             val_folds=[8], test_folds=[9])  # fmt: skip
    assert len(ds) == 27 and set(ds.record_info["fold"].tolist()) == set(range(1, 10))
    assert ds.info["dropped_records"] == 3
    assert len(ecgssl.load_dataset("npz", root=archive, train_folds=[1, 2], split="train")) == 6
    with pytest.raises(ValueError, match="fold 2 is listed in both train_folds and val_folds"):
        ecgssl.load_dataset("npz", root=archive, train_folds=[1, 2], val_folds=[2])
    with pytest.raises(ValueError, match=r"folds \[11\] are not in the archive"):
        ecgssl.load_dataset("npz", root=archive, test_folds=[11])


def test_fold_options_as_typed_on_the_command_line(archive, tmp_path):
    # `--dataset-option val_folds=8` arrives as an int, `train_folds=1,2` as a string.
    ds = ecgssl.load_dataset("npz", root=archive, train_folds="1,2", val_folds=8, test_folds=9)
    assert sorted(set(ds.record_info["fold"][ds.split == "train"].tolist())) == [1, 2]
    assert set(ds.record_info["fold"][ds.split == "val"].tolist()) == {8}
    # val and test named, train not: train is every other fold (nothing dropped).
    ds = ecgssl.load_dataset("npz", root=archive, val_folds=8, test_folds=[9])
    assert len(ds) == 30 and ds.info.get("dropped_records", 0) == 0
    assert sorted(set(ds.record_info["fold"][ds.split == "train"].tolist())) == [
        1, 2, 3, 4, 5, 6, 7, 10]  # fmt: skip
    with pytest.raises(ValueError, match="val_folds must be fold numbers"):
        ecgssl.load_dataset("npz", root=archive, val_folds="eight")
    with pytest.raises(ValueError, match="test_folds must be fold numbers"):
        ecgssl.load_dataset("npz", root=archive, test_folds=8.5)


def test_split_key_layout_and_required_facts(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 500, 3))  # (records, time, leads)
    split = np.array(["train"] * 4 + ["val"] * 2 + ["test"] * 2)
    path = write(tmp_path / "own.npz", signals=x, labels=np.arange(8) % 2, split=split)
    with pytest.raises(KeyError, match=r"no signals array 'X'.*labels, signals, split"):
        ecgssl.load_dataset("npz", root=path)
    with pytest.raises(ValueError, match="no sampling-rate array 'fs': pass fs="):
        ecgssl.load_dataset("npz", root=path, signals_key="signals")
    with pytest.raises(ValueError, match="no lead-name array 'leads': pass leads="):
        ecgssl.load_dataset("npz", root=path, signals_key="signals", fs=250)
    ds = ecgssl.load_dataset("npz", root=path, signals_key="signals", labels_key="labels",
                             split_key="split", fs=250, leads=["I", "II", "v1"])  # fmt: skip
    assert ds.signals.shape == (8, 3, 500) and ds.leads == ("I", "II", "V1")
    np.testing.assert_allclose(ds.signals[2, 1], x[2, :, 1], rtol=1e-6)
    assert not ds.multilabel and ds.labels.shape == (8, 2) and ds.split.tolist() == split.tolist()
    assert ds.patient_ids is None
    with pytest.raises(KeyError, match="no array 'diagnosis' \\(labels\\)"):
        ecgssl.load_dataset("npz", root=path, signals_key="signals", labels_key="diagnosis",
                            fs=250, leads=["I", "II", "V1"])  # fmt: skip


def test_ambiguous_and_wrong_shapes(tmp_path):
    square = write(
        tmp_path / "sq.npz", X=np.zeros((4, 12, 12)), fs=100, leads=np.array(STANDARD_LEADS)
    )
    with pytest.raises(ValueError, match=r"ambiguous.*signal_layout"):
        ecgssl.load_dataset("npz", root=square)
    ds = ecgssl.load_dataset("npz", root=square, signal_layout="records_time_leads")
    assert ds.signals.shape == (4, 12, 12)
    wrong = write(
        tmp_path / "w.npz", X=np.zeros((4, 5, 100)), fs=100, leads=np.array(STANDARD_LEADS)
    )
    with pytest.raises(ValueError, match="no axis of 12 leads"):
        ecgssl.load_dataset("npz", root=wrong)
    flat = write(tmp_path / "f.npz", X=np.zeros((4, 1200)), fs=100, leads=np.array(STANDARD_LEADS))
    with pytest.raises(ValueError, match="'X' must be 3-D"):
        ecgssl.load_dataset("npz", root=flat)
    x = np.zeros((4, 12, 100))
    x[2, 3, 7] = np.nan
    nan = write(tmp_path / "n.npz", X=x, fs=100, leads=np.array(STANDARD_LEADS))
    with pytest.raises(
        ValueError, match=r"'X': 1 of 4 records contain NaN or Inf \(first: \[2\]\)"
    ):
        ecgssl.load_dataset("npz", root=nan)
    bad_y = write(tmp_path / "y.npz", X=np.zeros((4, 12, 100)), y=np.full((4, 2), 3), fs=100,
                  leads=np.array(STANDARD_LEADS))  # fmt: skip
    with pytest.raises(ValueError, match="labels 'y' is 2-D, so it must be a multi-hot"):
        ecgssl.load_dataset("npz", root=bad_y)
    with pytest.raises(ValueError, match="fs=250 disagrees"):
        ecgssl.load_dataset("npz", root=square, fs=250, signal_layout="records_leads_time")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ecgssl.load_dataset("npz", root=tmp_path / "absent.npz")
    with pytest.raises(ValueError, match="pass root="):
        ecgssl.load_dataset("npz")


def test_standardize_options(archive):
    rec = ecgssl.load_dataset("npz", root=archive, standardize="record")
    np.testing.assert_allclose(rec.signals.std(axis=-1), 1.0, atol=1e-3)
    train = ecgssl.load_dataset("npz", root=archive, standardize="train")
    assert "standardization" in train.info


def test_real_ptbxl_dev_archive(shared_file):
    path = shared_file("ptbxl_super_100hz_dev.npz")
    ds = ecgssl.load_dataset("npz", root=path, train_folds=list(range(1, 8)), val_folds=[8],
                             test_folds=[9])  # fmt: skip
    assert len(ds) == 1625 and ds.fs == 100 and ds.leads == STANDARD_LEADS
    assert ds.classes == ("NORM", "MI", "STTC", "CD", "HYP")
    sizes = np.bincount(ds.record_info["fold"])[1:].tolist()
    assert sizes == [169, 188, 179, 188, 185, 188, 185, 160, 183]
    assert ds.labels.sum(0).tolist() == [877, 228, 461, 406, 174]
    test = ds.subset("test")
    assert len(test) == 183 and test.labels.sum(0).tolist() == [101, 22, 50, 39, 14]
    assert (ds.split == "train").sum() == 1282 and (ds.split == "val").sum() == 160
    default = ecgssl.load_dataset("npz", root=path)  # the same mapping by default
    np.testing.assert_array_equal(default.split, ds.split)
