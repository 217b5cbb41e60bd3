"""The ``mimic_iv_ecg`` loader on a miniature tree in the official layout: records listed by
record_list.csv, subjects as patients, machine reports, slices, and bad records reported."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pytest

import ecgssl
from ecgssl.cli import main
from ecgssl.validation import STANDARD_LEADS

#: MIMIC-IV-ECG headers list aVF before aVL.
MIMIC_LEADS = ("I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6")
#: (subject_id, study_id, what): "ok", "nan", "flat" (lead V3) or "absent" (no files).
ROWS = [
    (10000032, 40689238, "ok"), (10000032, 44458630, "ok"), (10000117, 45090959, "ok"),
    (10000560, 40018383, "nan"), (10000635, 41234567, "flat"), (10000764, 42345678, "absent"),
    (10000898, 43456789, "ok"), (10001122, 44567890, "ok"),
]  # fmt: skip


def _rel(subject: int, study: int) -> str:
    return f"files/p{str(subject)[:4]}/p{subject}/s{study}/{study}"


@pytest.fixture
def mimic_tree(tmp_path, mk):
    root = tmp_path / "mimic-iv-ecg"
    root.mkdir()
    with open(root / "record_list.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["subject_id", "study_id", "file_name", "ecg_time", "path"])
        for subject, study, what in ROWS:
            rel = _rel(subject, study)
            w.writerow([subject, study, study, "2180-07-19 08:44:00", rel])
            if what == "absent":
                continue
            x = mk.sine_record(12, 5000, 500, seed=study % 1000)  # standard order
            x = x[[STANDARD_LEADS.index(n) for n in MIMIC_LEADS]]
            if what == "nan":
                x[2, 100:200] = np.nan
            if what == "flat":
                x[MIMIC_LEADS.index("V3")] = 0.0
            mk.write_wfdb(root / Path(rel).parent, str(study), x, 500, MIMIC_LEADS)
    with open(root / "machine_measurements.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["subject_id", "study_id", "cart_id", "ecg_time"]
                   + [f"report_{k}" for k in range(18)] + ["rr_interval"])  # fmt: skip
        w.writerow([10000032, 40689238, 6848296, "", "Sinus rhythm", "Normal ECG"]
                   + [""] * 16 + [659])  # fmt: skip
        w.writerow([10000117, 45090959, 6848296, "", "Atrial fibrillation"] + [""] * 17 + [0])
    return root


def _load(root, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = ecgssl.load_dataset("mimic_iv_ecg", root=root, progress=False, n_jobs=1, **kw)
    return ds, [str(w.message) for w in caught]


def test_layout_patients_reports_and_bad_records(mimic_tree):
    ds, messages = _load(mimic_tree)
    assert ds.record_ids.tolist() == ["40689238", "44458630", "45090959", "43456789", "44567890"]
    assert ds.patient_ids.tolist()[:3] == ["10000032", "10000032", "10000117"]
    assert ds.labels is None and ds.leads == STANDARD_LEADS and ds.fs == 500.0
    assert ds.signals.shape == (5, 12, 5000) and np.isfinite(ds.signals).all()
    # aVF/aVL mapped by name: lead j is a sine of amplitude 0.1 (j + 1) on an offset of j mV.
    np.testing.assert_allclose(np.median(ds.signals[0], axis=-1), np.arange(12), atol=0.02)
    for s in np.unique(ds.patient_ids):
        assert len(set(ds.split[ds.patient_ids == s])) == 1
    reports = dict(zip(ds.record_ids, ds.record_info["report"]))
    assert reports["40689238"] == "Sinus rhythm; Normal ECG"
    assert reports["45090959"] == "Atrial fibrillation" and reports["44567890"] == ""
    assert ds.record_info["ecg_time"][0] == "2180-07-19 08:44:00"
    skipped = ds.info["skipped"]
    assert set(skipped) == {"40018383", "41234567", "42345678"}
    assert "NaN" in skipped["40018383"] and skipped["41234567"] == "flat lead(s) V3"
    assert skipped["42345678"].startswith("missing ")
    assert any("2 of 8 records skipped" in m for m in messages)
    assert any("1 of 6 records dropped for flat leads" in m for m in messages)
    kept, _ = _load(mimic_tree, flat_leads="keep")
    assert len(kept) == 6 and kept.record_info["flat_leads"].tolist().count("V3") == 1


def test_slices_and_options(mimic_tree):
    first, _ = _load(mimic_tree, max_records=3, fs=100, window=5)
    assert first.record_ids.tolist() == ["40689238", "44458630", "45090959"]
    assert first.signals.shape == (3, 12, 500) and first.info["n_listed"] == 3
    one, _ = _load(mimic_tree, subject_ids=[10000032], split_method="all_train", reports=False)
    assert one.record_ids.tolist() == ["40689238", "44458630"] and (one.split == "train").all()
    assert (one.record_info["report"] == "").all()
    with pytest.raises(ValueError, match="max_records must be"):
        ecgssl.load_dataset("mimic_iv_ecg", root=mimic_tree, max_records=0)
    with pytest.raises(ValueError, match="flat_leads must be one of"):
        _load(mimic_tree, flat_leads="zero")
    with pytest.raises(FileNotFoundError, match=r"lacks record_list.csv.*mimic-iv-ecg"):
        ecgssl.load_dataset("mimic_iv_ecg", root=mimic_tree / "files")
    (mimic_tree / "record_list.csv").write_text("subject_id,file_name\n1,2\n")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['study_id', 'path'\]"):
        ecgssl.load_dataset("mimic_iv_ecg", root=mimic_tree)


def test_cli_prepare(mimic_tree, capsys):
    code = main(["datasets", "prepare", "mimic_iv_ecg", "--root", str(mimic_tree),
                 "--set", "max_records=2", "--no-progress"])  # fmt: skip
    assert code == 0 and "mimic_iv_ecg: 2 records x 12 leads" in capsys.readouterr().out


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_records_cache_chunk_by_chunk_and_stream(mimic_tree, tmp_path, n_jobs):
    from ecgssl.data import PreprocessConfig, cache_records, stream_caches
    from ecgssl.data.mimic_iv_ecg import mimic_iv_ecg_records, read_mimic_ecg

    records = mimic_iv_ecg_records(mimic_tree)
    assert [r.record_id for r in records][:2] == ["40689238", "44458630"]
    config = PreprocessConfig(fs=100, leads=STANDARD_LEADS, window=10)
    cache = cache_records(tmp_path / "cache", "mimic_iv_ecg", records, read_mimic_ecg, config,
                          dtype="int16", chunk_records=3, n_jobs=n_jobs, progress=False)  # fmt: skip
    bad = [i for i, (_, _, what) in enumerate(ROWS) if what in ("absent", "nan")]
    assert cache.shape == (len(ROWS), 12, 1000) and cache.skipped_rows.tolist() == bad
    streamed = stream_caches([cache])
    assert len(streamed) == len(ROWS) - len(bad) and streamed.leads == STANDARD_LEADS
    np.testing.assert_allclose(np.median(streamed.read(np.array([0]))[0], axis=-1),
                               np.arange(12), atol=0.02)  # fmt: skip
