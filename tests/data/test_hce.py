"""The ``hce`` loader: column order mapped to standard leads, DC offsets removed, PTB-XL-like
band-pass and z-score, subjects kept in one split; the real recordings' facts."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import ecgssl
from ecgssl.data.hce import HCE_COLUMNS
from ecgssl.validation import STANDARD_LEADS

FS = 100


def hce_file(seed: int) -> np.ndarray:
    """int64 (1000, 12) counts in HCE column order: lead j (standard order) is a 5 Hz sine
    of amplitude 100 * (j + 1) counts, on a DC offset of up to 3e6 counts."""
    rng = np.random.default_rng(seed)
    t = np.arange(1000) / FS
    std = np.stack([100 * (j + 1) * np.sin(2 * np.pi * 5 * t) for j in range(12)])
    cols = std[[STANDARD_LEADS.index(c) for c in HCE_COLUMNS]].T
    offset = rng.integers(-3_000_000, 3_000_000, 12)
    return (cols + offset + rng.normal(0, 1, cols.shape)).round().astype(np.int64)


@pytest.fixture
def hce_tree(tmp_path):
    folder = tmp_path / "hce" / "HCE_processed"
    folder.mkdir(parents=True)
    for s, subject in enumerate(("01", "02", "03", "04")):
        for posture in ("lie", "sit", "stand"):
            for k in range(2):
                np.save(folder / f"{subject}_{posture}_{k}.npy", hce_file(100 * s + k))
    (folder / "notes.txt").write_text("not a record")
    return tmp_path / "hce"


def test_leads_baseline_and_preprocessing(hce_tree):
    ds = ecgssl.load_dataset("hce", root=hce_tree, progress=False, n_jobs=1)
    assert len(ds) == 24 and ds.leads == STANDARD_LEADS and ds.fs == FS
    assert ds.labels is None and ds.signals.shape == (24, 12, 1000)
    assert Counter(ds.record_info["posture"].tolist()) == {"lie": 8, "sit": 8, "stand": 8}
    assert ds.record_ids[0] == "01_lie_0" and ds.patient_ids[0] == "01"
    # z-scored per record and lead, and the columns are in standard order: every lead is
    # the same 5 Hz sine after z-scoring, in phase with lead I.
    np.testing.assert_allclose(ds.signals.std(-1), 1.0, atol=1e-3)
    mid = slice(100, 900)
    for j in range(12):
        assert np.corrcoef(ds.signals[0, 0, mid], ds.signals[0, j, mid])[0, 1] > 0.99
    raw = ecgssl.load_dataset("hce", root=hce_tree, preprocess="baseline", progress=False,
                              n_jobs=1)  # fmt: skip
    assert np.abs(np.median(raw.signals, axis=-1)).max() < 2  # DC offsets (~1e6) removed
    amp = raw.signals[0].std(-1) * np.sqrt(2)  # counts: amplitude 100 * (j + 1) by lead
    np.testing.assert_allclose(amp, 100 * np.arange(1, 13), rtol=0.02)
    assert raw.info["units"] == "ADC counts"


def test_subjects_stay_in_one_split_and_all_train(hce_tree):
    ds = ecgssl.load_dataset("hce", root=hce_tree, progress=False, n_jobs=1)
    for s in np.unique(ds.patient_ids):
        assert len(set(ds.split[ds.patient_ids == s])) == 1
    every = ecgssl.load_dataset("hce", root=hce_tree, split_method="all_train", progress=False,
                                n_jobs=1)  # fmt: skip
    assert (every.split == "train").all()
    with pytest.raises(ValueError, match="split_method must be one of"):
        ecgssl.load_dataset("hce", root=hce_tree, split_method="random")
    with pytest.raises(ValueError, match="preprocess must be one of"):
        ecgssl.load_dataset("hce", root=hce_tree, preprocess="mv")
    with pytest.raises(FileNotFoundError, match="lacks HCE_processed"):
        ecgssl.load_dataset("hce", root=hce_tree / "HCE_processed")


def test_bad_file_is_skipped_with_a_warning(hce_tree):
    np.save(hce_tree / "HCE_processed" / "05_sit_0.npy", np.zeros((1000, 8), np.int64))
    with pytest.warns(UserWarning, match="1 of 25 records skipped.*05_sit_0.*time, 12"):
        ds = ecgssl.load_dataset("hce", root=hce_tree, progress=False, n_jobs=1)
    assert len(ds) == 24


def test_real_hce(shared):
    root = shared("hce")
    ds = ecgssl.load_dataset("hce", root=root, progress=False, n_jobs=1)
    assert len(ds) == 1289 and len(np.unique(ds.patient_ids)) == 72
    assert Counter(ds.record_info["posture"].tolist()) == {"lie": 432, "sit": 432, "stand": 425}
    assert ds.signals.shape[1:] == (12, 1000) and np.isfinite(ds.signals).all()
    for s in np.unique(ds.patient_ids):
        assert len(set(ds.split[ds.patient_ids == s])) == 1
    # The mapped columns are the right leads: III = II - I within a few counts (besides a
    # constant, as each channel's own median was removed) in most files (README: 1,198).
    i, ii, iii = (ds.leads.index(n) for n in ("I", "II", "III"))
    raw = ecgssl.load_dataset("hce", root=root, preprocess="baseline", progress=False, n_jobs=1)
    x = raw.signals.astype(np.float64)
    resid = x[:, iii] - (x[:, ii] - x[:, i])
    resid -= np.median(resid, axis=-1, keepdims=True)
    assert (np.abs(resid).max(axis=-1) <= 4).sum() >= 1150
