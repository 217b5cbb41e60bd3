"""Any folder of WFDB records; the real PTB-DB record."""

import numpy as np
import pytest

import ecgssl


def test_folder_native_and_resampled(tmp_path, mk):
    for pid, rec, seconds in (("p1", "a", 4), ("p1", "b", 4), ("p2", "c", 6)):
        x = mk.sine_record(2, int(seconds * 200), 200, seed=ord(rec))
        mk.write_wfdb(tmp_path / "raw" / pid, rec, x, 200, ["ii", "v5"], ["age: 70"])
    with pytest.raises(ValueError, match="window="):
        ecgssl.load_dataset("wfdb_folder", root=tmp_path / "raw", progress=False)
    ds = ecgssl.load_dataset("wfdb_folder", root=tmp_path / "raw", window=5, fs=100,
                             patient_from_folder=True, progress=False)  # fmt: skip
    assert ds.signals.shape == (3, 2, 500) and ds.leads == ("II", "V5") and ds.labels is None
    assert ds.record_ids.tolist() == ["p1/a", "p1/b", "p2/c"]
    assert ds.patient_ids.tolist() == ["p1", "p1", "p2"] and ds.split[0] == ds.split[1]
    assert ds.record_info["age"].tolist() == ["70"] * 3
    assert tuple(ds[0].shape) == (2, 500)  # unlabeled: the signal alone
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no WFDB records"):
        ecgssl.load_dataset("wfdb_folder", root=tmp_path / "empty", progress=False)


def test_real_ptbdb_record(shared):
    ds = ecgssl.load_dataset("wfdb_folder", root=shared("ptbdb"), progress=False)
    assert ds.signals.shape == (1, 15, 38400) and ds.fs == 1000.0
    assert ds.leads[:12] == ecgssl.data.ludb.STANDARD_LEADS and ds.leads[12:] == ("vx", "vy", "vz")
    assert "Reason for admission: Myocardial infarction" in ds.record_info["comments"][0]
    twelve = ecgssl.load_dataset("wfdb_folder", root=shared("ptbdb"), fs=500, window=10,
                                 leads=ecgssl.data.ludb.STANDARD_LEADS, progress=False)  # fmt: skip
    assert twelve.signals.shape == (1, 12, 5000)
    np.testing.assert_allclose(twelve.signals[0, 0, 1000:1100].mean(),
                               ds.signals[0, 0, 2000:2200].mean(), atol=0.02)  # fmt: skip
