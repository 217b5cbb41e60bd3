"""The whole CinC 2021 training tree (eight sources) with the header quirks of the real
releases: good records load, each bad one is reported with its reason, and a source that
loses every record is named in a warning."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import ecgssl
from ecgssl.data.cinc import parse_cinc_header, read_cinc
from ecgssl.data.quality import AMPLITUDE_RANGE_MV, amplitude_mv, check_signal, reason_kind
from ecgssl.data.records import Record
from ecgssl.validation import STANDARD_LEADS

#: (folder of the official release, record, fs): one record per source, all readable.
GOOD = [
    ("cpsc_2018/g1", "A0001", 500), ("cpsc_2018_extra/g1", "Q0001", 500),
    ("st_petersburg_incart/g1", "I0001", 257), ("ptb-xl/g1", "HR00001", 500),
    ("georgia/g1", "E00001", 500), ("georgia/g1", "E00002", 500),
    ("chapman_shaoxing/g1", "JS00001", 500), ("ningbo/g1", "JS10647", 500),
]  # fmt: skip


def _edit(hea: Path, first: str | None = None, old: str | None = None, new: str = "") -> None:
    lines = hea.read_text().splitlines()
    if first is not None:
        lines[0] = first
    text = "\n".join(lines) + "\n"
    hea.write_text(text.replace(old, new) if old else text)


@pytest.fixture
def tree(tmp_path, mk):
    """training/<source>/g1/... with every quirk; returns (root, expected skip kinds)."""
    root = tmp_path / "training"

    def rec(folder: str, name: str, fs: int, seconds: int = 10, **kw: object) -> Path:
        x = mk.sine_record(12, fs * seconds, fs, seed=len(name))
        return mk.write_cinc(root / folder, name, x, fs, ["426783006"], **kw)

    for folder, name, fs in GOOD:
        rec(folder, name, fs)
    # Quirks that are repaired: a non-WFDB date, the record name with '.mat', NaN date/time.
    _edit(root / "cpsc_2018/g1/A0001.hea", first="A0001 12 500 5000 05-Jun-2020 11:39:16")
    _edit(root / "cpsc_2018_extra/g1/Q0001.hea", first="Q0001.mat 12 500 5000")
    _edit(root / "georgia/g1/E00001.hea", first="E00001 12 500 5000 NaN NaN")
    # A flat lead: loaded, flagged.
    x = mk.sine_record(12, 5000, 500, seed=3)
    x[11] = 0.0
    mk.write_cinc(root / "georgia/g1", "E00002", x, 500, ["426783006"])
    # Bad records.
    rec("chapman_shaoxing/g1", "JS00002", 500)  # gain 1/mV: amplitude x1000
    _edit(root / "chapman_shaoxing/g1/JS00002.hea", old="1000.0(0)/mV", new="1.0(0)/mV")
    mk.write_cinc(root / "ningbo/g1", "JS10648", np.zeros((12, 5000)), 500, ["426783006"])
    rec("ptb-xl/g1", "HR00002", 500).with_suffix(".mat").unlink()  # missing .mat
    mat = rec("ptb/g1", "S0001", 1000).with_suffix(".mat")  # the only PTB record: truncated
    mat.write_bytes(mat.read_bytes()[: mat.stat().st_size // 2])
    hea = rec("cpsc_2018/g1", "A0002", 500).with_suffix(".hea")
    hea.write_text("\n".join(hea.read_text().splitlines()[:6]) + "\n")  # 5 of 12 signal lines
    rec("georgia/g1", "E00003", 500)
    _edit(root / "georgia/g1/E00003.hea", old="1000.0(0)/mV", new="1e7(0)/mV")  # ~0.1 µV
    expected = {
        "chapman_shaoxing/g1/JS00002": "implausible amplitude",
        "ningbo/g1/JS10648": "flat signal",
        "ptb-xl/g1/HR00002": "missing file",
        "ptb/g1/S0001": "truncated signal file",
        "cpsc_2018/g1/A0002": "malformed header",
        "georgia/g1/E00003": "implausible amplitude",
    }
    return root, expected


def test_whole_tree_loads_good_records_and_reports_each_bad_one(tree):
    root, expected = tree
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = ecgssl.load_dataset("physionet2021", root=root, progress=False, n_jobs=1)
    good = {f"{folder}/{name}" for folder, name, _ in GOOD}
    assert set(ds.record_ids.tolist()) == good
    assert ds.signals.shape == (len(good), 12, 5000) and np.isfinite(ds.signals).all()
    skipped = ds.info["skipped"]
    assert {k: reason_kind(v) for k, v in skipped.items()} == expected
    assert "5 signal lines" in skipped["cpsc_2018/g1/A0002"]
    assert ds.info["skip_summary"] == {
        "chapman": {"implausible amplitude": 1}, "cpsc2018": {"malformed header": 1},
        "georgia": {"implausible amplitude": 1}, "ningbo": {"flat signal": 1},
        "ptb": {"truncated signal file": 1}, "ptbxl_cinc": {"missing file": 1},
    }  # fmt: skip
    assert ds.info["loaded_by_source"] == {
        "chapman": 1, "cpsc2018": 1, "cpsc2018_extra": 1, "georgia": 2, "incart": 1,
        "ningbo": 1, "ptbxl_cinc": 1,
    }  # fmt: skip
    messages = [str(w.message) for w in caught]
    assert any("6 of 14 records skipped" in m for m in messages)
    assert any("every one of the 1 records of source 'ptb'" in m for m in messages)
    info = dict(zip(ds.record_ids, ds.record_info["header_quirks"]))
    assert "05-Jun-2020" in info["cpsc_2018/g1/A0001"]
    assert "'Q0001.mat'" in info["cpsc_2018_extra/g1/Q0001"]
    assert "NaN" in info["georgia/g1/E00001"] and info["ptb-xl/g1/HR00001"] == ""
    flat = dict(zip(ds.record_ids, ds.record_info["flat_leads"]))
    assert flat["georgia/g1/E00002"] == "V6" and flat["georgia/g1/E00001"] == ""
    # A second load comes from the cache and reports the same.
    again = ecgssl.load_dataset("physionet2021", root=root, progress=False, n_jobs=1)
    assert again.info["from_cache"] and again.info["skipped"] == skipped
    with pytest.raises(ValueError, match=r"HR00002: missing.*strict=True"):
        ecgssl.load_dataset("physionet2021", root=root, progress=False, strict=True)


def test_repaired_record_matches_the_clean_one(tmp_path, mk):
    x = mk.sine_record(12, 5000, 500, seed=1)
    clean = read_cinc(str(mk.write_cinc(tmp_path / "a", "A0001", x, 500, ["1"])))
    path = mk.write_cinc(tmp_path / "b", "A0001", x, 500, ["1"])
    _edit(path.with_suffix(".hea"), first="A0001.mat 12 500 5000 05-Jun-2020 11:39:16")
    quirky = read_cinc(str(path))
    np.testing.assert_array_equal(clean.signal, quirky.signal)
    np.testing.assert_allclose(quirky.signal, x, atol=1e-3)
    assert quirky.leads == STANDARD_LEADS and quirky.fs == 500.0
    assert quirky.comments[-1].startswith("Header quirks: record name 'A0001.mat'")


def test_header_parsing():
    text = "\n".join([
        "X1 2 257 100 12:00:00 01/02/2003",
        "X1.mat 16x1+24 2000(5)/uV 16 0 0 0 0 I", "X1.mat 16+24 500/mV 16 0 0 0 0 V1",
        "# Age: NaN", "# Dx: 1,2",
    ])  # fmt: skip
    h = parse_cinc_header(text)
    assert (h.name, h.fs, h.n_samples, h.quirks) == ("X1", 257.0, 100, ())
    assert h.gains == (2000.0, 500.0) and h.baselines == (5, 0) and h.units == ("uV", "mV")
    assert h.leads == ("I", "V1") and h.comments == ("Age: NaN", "Dx: 1,2")
    for bad, match in [
        ("", "no record line"),
        ("X1 2 abc 100\nX1.mat 16 1000/mV 16 0 0 0 0 I", "sampling rate 'abc'"),
        ("X1 1 500 100\nX1.mat 212 1000/mV 16 0 0 0 0 I", "format '212'"),
        ("X1 1 500 100\nX1.mat 16 0/mV 16 0 0 0 0 I", "uncalibrated"),
        ("X1 1 500 100\nX1.mat 16 1000/furlong 16 0 0 0 0 I", "unknown unit"),
    ]:  # fmt: skip
        with pytest.raises(ValueError, match=f"malformed header: .*{match}"):
            parse_cinc_header(bad)


def test_amplitude_check_thresholds():
    t = np.arange(5000) / 500
    ecg = np.stack([np.sin(2 * np.pi * t)] * 3)  # 1 mV peaks
    rec = Record(ecg, 500.0, ("I", "II", "III"))
    assert check_signal(rec) is rec and amplitude_mv(ecg) == pytest.approx(1.0, abs=0.01)
    low, high = AMPLITUDE_RANGE_MV
    for factor in (high * 1.5, low / 2):
        with pytest.raises(ValueError, match="implausible amplitude"):
            check_signal(Record(ecg * factor, 500.0, rec.leads))
    one_flat = ecg.copy()
    one_flat[1] = 0.3
    assert check_signal(Record(one_flat, 500.0, rec.leads)).comments == ("Flat leads: II",)
    with pytest.raises(ValueError, match="NaN"):
        check_signal(Record(np.full((3, 10), np.nan), 500.0, rec.leads))
