"""Cache builds: bounded chunks, a SIGKILLed build resumes where it stopped and equals an
uninterrupted one, a half-written cache is never opened, storage dtypes round-trip within
their stated error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ecgssl.data.cache_build import build_signal_cache, cache_records
from ecgssl.data.preprocess import PreprocessConfig
from ecgssl.data.records import Record
from ecgssl.data.signal_cache import decode, encode, open_signal_cache
from ecgssl.data.store import SourceRecord
from ecgssl.errors import InvalidValueError

CHILD = Path(__file__).with_name("cache_build_child.py")
sys.path.insert(0, str(CHILD.parent))
from cache_build_child import records  # noqa: E402


def _child(folder: Path, calls: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(CHILD), "--folder", str(folder), "--calls", str(calls), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
def test_sigkilled_build_resumes_and_equals_an_uninterrupted_build(tmp_path):
    ref = _child(tmp_path / "ref", tmp_path / "ref-calls")
    assert ref.returncode == 0, ref.stderr
    folder, calls = tmp_path / "killed", tmp_path / "calls"
    killed = _child(folder, calls, "--kill-at-chunk", "4")  # chunks of 8: rows 0..23 done
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (folder / "manifest.json").exists()
    assert json.loads((folder / "progress.json").read_text())["done"] == 24
    with pytest.raises(InvalidValueError, match="unfinished build"):
        open_signal_cache(folder)  # a half-written cache is never used
    calls.write_text("")
    resumed = _child(folder, calls)
    assert resumed.returncode == 0, resumed.stderr
    assert calls.read_text().split() == ["24", "32", "40", "48"]  # not from zero
    assert not (folder / "progress.json").exists()
    a, b = open_signal_cache(tmp_path / "ref"), open_signal_cache(folder)
    assert (folder / "signals.npy").read_bytes() == (tmp_path / "ref" / "signals.npy").read_bytes()
    assert a.manifest == b.manifest
    assert b.skipped_rows.tolist() == [13] and 13 not in b.valid_rows()
    rows = np.array([49, 0, 7, 8, 8, 30])
    expected = records(0, 50)[rows]
    expected[rows == 13] = 0
    np.testing.assert_array_equal(b.read(rows), expected)


def test_a_finished_cache_is_reused_and_another_plan_refused(tmp_path):
    calls = []

    def produce(start, stop):
        calls.append(start)
        return records(start, stop)

    kw = {"fs": 50.0, "leads": ["I", "II", "V1"], "length": 40, "chunk_records": 16,
          "progress": False}  # fmt: skip
    c = build_signal_cache(tmp_path, produce, 50, **kw)
    assert calls == [0, 16, 32, 48] and len(c) == 50
    build_signal_cache(tmp_path, produce, 50, **kw)
    assert calls == [0, 16, 32, 48]  # reused, not rebuilt
    with pytest.raises(InvalidValueError, match="holds another cache"):
        build_signal_cache(tmp_path, produce, 50, **{**kw, "dtype": "int16"})
    with pytest.raises(InvalidValueError, match="shape"):
        build_signal_cache(tmp_path / "bad", lambda a, b: records(a, b)[:, :2], 20, **kw)


def test_storage_dtypes_round_trip_within_the_stated_error():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 12, 500)).astype(np.float32) * 3
    stored, clipped = encode(x, "float32", None)
    np.testing.assert_array_equal(decode(stored, None), x)
    stored, clipped = encode(x, "float16", None)
    err = np.abs(decode(stored, None) - x)
    big = np.abs(x) >= 6.1e-5
    assert stored.dtype == np.float16 and clipped == 0
    assert (err[big] <= 2**-11 * np.abs(x[big])).all() and (err[~big] <= 3e-8).all()
    for scale in (1e-3, 1e-2):
        stored, clipped = encode(x, "int16", scale)
        err = np.abs(decode(stored, scale) - x)
        assert stored.dtype == np.int16 and clipped == 0
        assert err.max() <= scale / 2 * (1 + 1e-3)
        assert abs(np.sqrt(np.mean(err**2)) - scale / np.sqrt(12)) < 0.05 * scale
    stored, clipped = encode(np.array([[[40.0, -40.0, 1.0]]]), "int16", 1e-3)
    assert clipped == 2
    np.testing.assert_allclose(decode(stored, 1e-3), [[[32.767, -32.767, 1.0]]], rtol=1e-6)
    with pytest.raises(InvalidValueError, match="float16"):
        encode(np.array([[[7e4]]]), "float16", None)
    with pytest.raises(InvalidValueError, match="NaN"):
        encode(np.array([[[np.nan]]]), "float32", None)


@pytest.mark.parametrize(("dtype", "atol"), [("float16", 2e-3), ("int16", 5e-4)])
def test_quantised_cache_reads_back_within_the_error(tmp_path, dtype, atol):
    x = records(0, 50)
    c = build_signal_cache(tmp_path, lambda a, b: x[a:b], 50, fs=50.0, leads=["I", "II", "V1"],
                           length=40, dtype=dtype, chunk_records=16, progress=False)  # fmt: skip
    assert c.dtype == dtype and os.path.getsize(c.path) < x.nbytes * 0.6
    np.testing.assert_allclose(c.read(np.arange(50)), x, atol=atol, rtol=0)


def _reader(path: str) -> Record:
    if path.endswith("bad"):
        raise OSError("cannot read")
    k = int(path.rsplit("-", 1)[1])
    sig = np.sin(np.linspace(0, 6, 1000) + k)[None].repeat(2, 0).astype(np.float32)
    return Record(signal=sig, fs=500.0, leads=("I", "II"))


def test_cache_records_resamples_chunks_and_skips_unreadable_records(tmp_path):
    recs = [SourceRecord(f"r{k}", f"rec-{k}" if k != 3 else "rec-bad", ()) for k in range(7)]
    c = cache_records(tmp_path, "toy", recs, _reader, PreprocessConfig(fs=100, window=2.0),
                      dtype="float16", chunk_records=3, progress=False)  # fmt: skip
    assert c.shape == (7, 2, 200) and c.fs == 100.0 and c.skipped_rows.tolist() == [3]
    assert c.manifest["record_ids"][6] == "r6"
    assert np.abs(c.read(np.array([0]))).max() > 0.1 and not c.read(np.array([3])).any()
