"""The ``code15`` loader on miniature HDF5 parts in the official layout: zero padding
stripped, lead names mapped, six multi-hot labels, patients kept in one split, absent parts
and bad exams reported; a clear error naming the extra when h5py is missing."""

from __future__ import annotations

import csv
import sys
import warnings

import numpy as np
import pytest

import ecgssl
from ecgssl.data.code15 import CODE15_CLASSES
from ecgssl.validation import STANDARD_LEADS

h5py = pytest.importorskip("h5py", reason="h5py not installed (pip install 'ecgssl[code15]')")

FS = 400
#: exam_id -> (patient_id, seconds, labels, what): "ok", "zeros" (all-zero tracing),
#: "flat" (lead V6 zero) — parts 0 and 1; exams 9x are listed for part 2, not on disk.
PART0 = {101: (1, 10, ["RBBB"], "ok"), 102: (1, 7, [], "ok"), 103: (2, 10, ["AF", "ST"], "ok"),
         104: (3, 10, [], "zeros")}  # fmt: skip
PART1 = {201: (4, 10, ["1dAVb"], "ok"), 202: (5, 7, ["SB", "LBBB"], "ok"),
         203: (6, 10, [], "flat")}  # fmt: skip


def tracing(exam: int, seconds: int) -> np.ndarray:
    """(4096, 12) float32: ``seconds`` of signal centred in zeros; lead j (standard order)
    is a 5 Hz sine of amplitude 0.1 (j + 1) mV plus j mV."""
    n = seconds * FS
    t = np.arange(n) / FS
    x = 0.1 * (np.arange(12)[:, None] + 1) * np.sin(2 * np.pi * 5 * t) + np.arange(12)[:, None]
    x = x + exam * 1e-3
    out = np.zeros((4096, 12), np.float32)
    start = (4096 - n) // 2
    out[start : start + n] = x.T
    return out


@pytest.fixture
def code15_tree(tmp_path):
    root = tmp_path / "code15"
    root.mkdir()
    rows = []
    for k, part in enumerate((PART0, PART1)):
        ids, tr = [], []
        for exam, (pid, seconds, labels, what) in part.items():
            x = tracing(exam, seconds)
            if what == "zeros":
                x[:] = 0
            if what == "flat":
                x[:, 11] = 0
            ids.append(exam)
            tr.append(x)
            rows.append((exam, pid, labels, f"exams_part{k}.hdf5"))
        ids.append(0)  # the parts end with an unlisted all-zero row
        tr.append(np.zeros((4096, 12), np.float32))
        with h5py.File(root / f"exams_part{k}.hdf5", "w") as f:
            f.create_dataset("tracings", data=np.stack(tr))
            f.create_dataset("exam_id", data=np.array(ids, dtype=np.int64))
    rows += [(901, 9, [], "exams_part2.hdf5"), (902, 9, [], "exams_part2.hdf5"),
             (105, 7, [], "exams_part0.hdf5")]  # fmt: skip  # 105: listed, not in part 0
    with open(root / "exams.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["exam_id", "age", "is_male", "nn_predicted_age", *CODE15_CLASSES,
                    "patient_id", "death", "timey", "normal_ecg", "trace_file"])  # fmt: skip
        for exam, pid, labels, trace in rows:
            w.writerow([exam, 60, exam % 2 == 1, 58.5, *[c in labels for c in CODE15_CLASSES],
                        pid, False, 5.2, not labels, trace])  # fmt: skip
    return root


def _load(root, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = ecgssl.load_dataset("code15", root=root, progress=False, n_jobs=1, **kw)
    return ds, [str(w.message) for w in caught]


def test_parts_padding_leads_and_labels(code15_tree):
    ds, messages = _load(code15_tree)
    assert ds.record_ids.tolist() == ["101", "102", "103", "201", "202"]
    assert ds.fs == FS and ds.leads == STANDARD_LEADS and ds.signals.shape == (5, 12, 4000)
    i = {r: k for k, r in enumerate(ds.record_ids)}
    ten = tracing(101, 10)
    np.testing.assert_allclose(ds.signals[i["101"]], ten[48:4048].T, atol=1e-6)  # unpadded
    seven = ds.signals[i["102"]]
    np.testing.assert_allclose(seven[:, :2800], tracing(102, 7)[648:3448].T, atol=1e-6)
    assert (seven[:, 2800:] == 0).all()  # padded at the end to the 10-s window
    assert ds.classes == CODE15_CLASSES
    labels = {r: {c for c, v in zip(ds.classes, row) if v} for r, row in zip(ds.record_ids, ds.labels)}  # fmt: skip
    assert labels == {"101": {"RBBB"}, "102": set(), "103": {"AF", "ST"}, "201": {"1dAVb"},
                      "202": {"SB", "LBBB"}}  # fmt: skip
    assert ds.patient_ids.tolist() == ["1", "1", "2", "4", "5"]
    assert ds.split[0] == ds.split[1]
    assert ds.record_info["sex"].tolist() == ["M", "F", "M", "M", "F"]
    assert ds.record_info["part"].tolist() == ["exams_part0.hdf5"] * 3 + ["exams_part1.hdf5"] * 2
    assert ds.info["parts"] == ["exams_part0.hdf5", "exams_part1.hdf5"]
    assert ds.info["parts_absent"] == {"exams_part2.hdf5": 2}
    skipped = ds.info["skipped"]
    assert set(skipped) == {"104", "105", "203"}
    assert "no signal" in skipped["104"] and skipped["105"] == "not in exams_part0.hdf5"
    assert skipped["203"] == "flat lead(s) V6"
    assert any("1 exam(s) of exams.csv are not in the part" in m for m in messages)
    assert any("1 of 7 records skipped" in m for m in messages)
    assert any("1 of 6 exams dropped for flat leads" in m for m in messages)
    kept, _ = _load(code15_tree, flat_leads="keep", fs=100, window=7)
    assert len(kept) == 6 and kept.signals.shape[1:] == (12, 700)


def test_part_selection_slices_and_errors(code15_tree):
    one, _ = _load(code15_tree, parts=[1], max_records=2)
    assert one.record_ids.tolist() == ["201", "202"] and one.info["parts"] == ["exams_part1.hdf5"]
    assert one.info["parts_absent"] == {"exams_part2.hdf5": 2}  # part 0 is there, not read
    with pytest.raises(FileNotFoundError, match=r"parts \[7\] not found.*zenodo"):
        ecgssl.load_dataset("code15", root=code15_tree, parts=[7])
    (code15_tree / "exams_part1.hdf5").write_bytes(b"not hdf5")
    ds, messages = _load(code15_tree)
    assert "exams_part1.hdf5" in ds.info["skipped_parts"] and len(ds) == 3
    assert any("unreadable part(s) skipped" in m for m in messages)
    for p in code15_tree.glob("*.hdf5"):
        p.unlink()
    with pytest.raises(FileNotFoundError, match=r"no exams_part<k>.hdf5.*zenodo"):
        ecgssl.load_dataset("code15", root=code15_tree)
    with pytest.raises(FileNotFoundError, match=r"lacks exams.csv"):
        ecgssl.load_dataset("code15", root=code15_tree / "..")


def test_missing_h5py_names_the_extra(code15_tree, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"pip install 'ecgssl\[code15\]'"):
        ecgssl.load_dataset("code15", root=code15_tree)
