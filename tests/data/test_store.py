"""The signal store: cache reuse and invalidation, atomic builds, corrupt records, parallel."""

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from ecgssl.data import store
from ecgssl.data.preprocess import PreprocessConfig
from ecgssl.data.records import read_wfdb
from ecgssl.data.store import SourceRecord, load_signals


def _folder(tmp_path: Path, mk, n: int = 6, fs: float = 100.0, seconds: float = 4.0) -> list:
    out = []
    for i in range(n):
        x = mk.sine_record(3, int(seconds * fs), fs, seed=i)
        p = mk.write_wfdb(tmp_path / "raw", f"r{i}", x, fs, ["I", "II", "V1"], [f"Age: {i}"])
        out.append(SourceRecord(f"r{i}", str(p), (f"{p}.hea", f"{p}.dat")))
    return out


CFG = PreprocessConfig(fs=50.0, leads=("V1", "I"), window=3.0)


def test_build_then_cached_load_never_reads_raw_files(tmp_path, mk, monkeypatch):
    recs = _folder(tmp_path, mk)
    first = load_signals("t", recs, read_wfdb, CFG, progress=False)
    assert not first.from_cache and first.signals.shape == (6, 2, 150)
    assert first.leads == ("V1", "I") and first.fs == 50.0
    assert first.comments[2] == ("Age: 2",)
    npy = first.cache_path
    assert npy is not None and npy.exists() and npy.with_suffix(".json").exists()

    def no_reading(path):
        raise AssertionError(f"raw record {path} read on a cached load")

    no_reading.__module__, no_reading.__qualname__ = read_wfdb.__module__, read_wfdb.__qualname__
    second = load_signals("t", recs, no_reading, CFG, progress=False)
    assert second.from_cache and isinstance(second.signals, np.memmap)
    np.testing.assert_array_equal(second.signals, first.signals)
    assert second.record_ids == first.record_ids and second.comments == first.comments
    second.signals[0] += 1  # copy-on-write: the cache file is not modified
    np.testing.assert_array_equal(np.load(npy), first.signals)


def test_cache_invalidated_by_options_and_by_changed_files(tmp_path, mk):
    recs = _folder(tmp_path, mk)
    a = load_signals("t", recs, read_wfdb, CFG, progress=False)
    b = load_signals("t", recs, read_wfdb, PreprocessConfig(fs=50.0, leads=("I",), window=3.0),
                     progress=False)  # fmt: skip
    assert not b.from_cache and b.cache_path != a.cache_path
    x = mk.sine_record(3, 400, 100.0, seed=99)  # rewrite record r3 with other samples
    mk.write_wfdb(tmp_path / "raw", "r3", x * 2, 100.0, ["I", "II", "V1"])
    os.utime(recs[3].files[1], ns=(1, 1))  # a new mtime even on coarse file systems
    c = load_signals("t", recs, read_wfdb, CFG, progress=False)
    assert not c.from_cache and c.cache_path != a.cache_path
    assert not np.allclose(c.signals[3], a.signals[3])
    np.testing.assert_array_equal(c.signals[:3], a.signals[:3])


def test_missing_and_corrupt_records_one_warning_or_strict(tmp_path, mk):
    recs = _folder(tmp_path, mk)
    Path(recs[1].files[1]).write_bytes(b"\x00")  # corrupt signal file
    recs.append(SourceRecord("gone", str(tmp_path / "gone"), (str(tmp_path / "gone.hea"),)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = load_signals("t", recs, read_wfdb, CFG, progress=False)
    msgs = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(msgs) == 1, msgs
    assert "2 of 7 records skipped" in msgs[0] and "r1" in msgs[0] and "gone" in msgs[0]
    assert out.record_ids == ("r0", "r2", "r3", "r4", "r5")
    assert set(out.skipped) == {"r1", "gone"} and out.skipped["gone"].startswith("missing")
    assert out.signals.shape[0] == 5
    with pytest.warns(UserWarning, match="2 of 7"):  # the cached load reports them again
        again = load_signals("t", recs, read_wfdb, CFG, progress=False)
    assert again.from_cache and again.record_ids == out.record_ids
    with pytest.raises(ValueError, match="strict=True"):
        load_signals("t", recs, read_wfdb, CFG, strict=True, cache=False, progress=False)


def test_a_killed_build_leaves_nothing_that_looks_complete(tmp_path, mk, monkeypatch):
    recs = _folder(tmp_path, mk)
    calls = {"n": 0}

    def dies(path):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return read_wfdb(path)

    with pytest.raises(KeyboardInterrupt):
        load_signals("t", recs, dies, CFG, n_jobs=1, progress=False)
    folder = tmp_path / "cache" / "datasets"
    assert list(folder.iterdir()) == []  # no partial .npy, no manifest, no temporary file
    out = load_signals("t", recs, read_wfdb, CFG, n_jobs=1, progress=False)
    assert not out.from_cache and out.signals.shape == (6, 2, 150)


def test_damaged_cache_is_rebuilt(tmp_path, mk):
    recs = _folder(tmp_path, mk)
    a = load_signals("t", recs, read_wfdb, CFG, progress=False)
    assert a.cache_path is not None
    path = a.cache_path
    expected = np.array(a.signals)
    del a  # drop the memory map before truncating the file under it
    path.write_bytes(b"garbage")
    with pytest.warns(RuntimeWarning, match="rebuilding"):
        b = load_signals("t", recs, read_wfdb, CFG, progress=False)
    assert not b.from_cache
    np.testing.assert_array_equal(b.signals, expected)


def test_parallel_build_matches_serial_and_no_cache(tmp_path, mk, monkeypatch):
    monkeypatch.setattr(store, "_CHUNK", 2)
    recs = _folder(tmp_path, mk, n=7)
    serial = load_signals("t", recs, read_wfdb, CFG, n_jobs=1, cache=False, progress=False)
    par = load_signals("t", recs, read_wfdb, CFG, n_jobs=2, progress=False)
    assert serial.cache_path is None and par.cache_path is not None
    np.testing.assert_array_equal(serial.signals, par.signals)
    assert serial.record_ids == par.record_ids


def test_native_options_must_agree(tmp_path, mk):
    recs = _folder(tmp_path, mk, n=2)
    x = mk.sine_record(3, 600, 100.0, seed=5)  # 6 s instead of 4 s
    p = mk.write_wfdb(tmp_path / "raw", "long", x, 100.0, ["I", "II", "V1"])
    recs.append(SourceRecord("long", str(p), (f"{p}.hea", f"{p}.dat")))
    native = PreprocessConfig()
    with pytest.raises(ValueError, match="window="):
        load_signals("t", recs, read_wfdb, native, cache=False, progress=False)
    out = load_signals("t", recs, read_wfdb, PreprocessConfig(window=5.0), progress=False)
    assert out.signals.shape == (3, 3, 500) and out.fs == 100.0
    assert out.leads == ("I", "II", "V1")
    with pytest.raises(ValueError, match="missing_leads"):
        load_signals("t", recs, read_wfdb, PreprocessConfig(leads=("I", "V6"), window=4.0),
                     progress=False)  # fmt: skip
    zero = load_signals("t", recs, read_wfdb,
                        PreprocessConfig(leads=("I", "V6"), window=4.0, missing_leads="zero"),
                        progress=False)  # fmt: skip
    assert zero.lead_missing[:, 1].all() and not zero.lead_missing[:, 0].any()
    assert (zero.signals[:, 1] == 0).all()
    cached = load_signals("t", recs, read_wfdb,
                          PreprocessConfig(leads=("I", "V6"), window=4.0, missing_leads="zero"),
                          progress=False)  # fmt: skip
    assert cached.from_cache
    np.testing.assert_array_equal(cached.lead_missing, zero.lead_missing)


def test_nothing_on_disk(tmp_path):
    recs = [SourceRecord("a", str(tmp_path / "a"), (str(tmp_path / "a.hea"),))]
    with pytest.raises(FileNotFoundError, match="none of the 1 expected records"):
        load_signals("t", recs, read_wfdb, CFG, progress=False)


def test_native_length_with_a_fractional_resampling_ratio(tmp_path, mk):
    recs = []
    for i in range(2):  # 1001 samples at 257 Hz -> 389.5 samples at 100 Hz
        p = mk.write_wfdb(tmp_path, f"x{i}", mk.sine_record(2, 1001, 257.0, seed=i), 257.0, ["I", "II"])  # fmt: skip
        recs.append(SourceRecord(f"x{i}", str(p), (f"{p}.hea", f"{p}.dat")))
    out = load_signals("t", recs, read_wfdb, PreprocessConfig(fs=100.0), progress=False)
    assert out.signals.shape == (2, 2, 390) and out.fs == 100.0


def test_incomplete_caches_are_not_used_and_stale_temporaries_removed(tmp_path, mk):
    recs = _folder(tmp_path, mk)
    a = load_signals("t", recs, read_wfdb, CFG, progress=False)
    assert a.cache_path is not None
    folder, stem = a.cache_path.parent, a.cache_path.stem
    expected = np.array(a.signals)
    del a
    (folder / f"{stem}.json").unlink()  # killed after the rename, before the manifest
    (folder / f"{stem}.npy").write_bytes(b"half")
    old = folder / f".{stem}.abc.npy.tmp"  # left by a build killed long ago
    fresh = folder / f".{stem}.def.npy.tmp"  # maybe a build running right now
    old.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(old, (1, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "unreadable cache" warning: it never looked complete
        b = load_signals("t", recs, read_wfdb, CFG, progress=False)
    assert not b.from_cache
    np.testing.assert_array_equal(b.signals, expected)
    assert not old.exists() and fresh.exists()
