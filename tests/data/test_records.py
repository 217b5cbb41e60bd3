"""Reading single records: WFDB, CinC .mat, original CPSC 2018 structs; header comments."""

import numpy as np
import pytest

from ecgssl.data.records import CPSC2018_LEADS, header_fields, read_cpsc2018_mat, read_wfdb


def test_header_fields_parses_cinc_and_ludb_styles():
    f = header_fields(["Age: 78", "Sex: Male", "Dx: 67741000119109,426177001", "<age>: 51",
                       "#<sex>: F", "Rhythm: Sinus bradycardia."])  # fmt: skip
    assert f["age"] == "78" and f["sex"] == "Male"  # the first occurrence wins
    assert f["dx"] == "67741000119109,426177001"
    assert f["rhythm"] == "Sinus bradycardia."


def test_read_wfdb_and_cinc_mat_roundtrip(tmp_path, mk):
    x = mk.sine_record(3, 1000, 250.0, seed=0)
    rec = read_wfdb(str(mk.write_wfdb(tmp_path, "r1", x, 250.0, ["i", "ii", "v1"], ["Age: 3"])))
    assert rec.fs == 250.0 and rec.leads == ("i", "ii", "v1") and rec.comments == ("Age: 3",)
    np.testing.assert_allclose(rec.signal, x, atol=1e-3)
    x12 = mk.sine_record(12, 2000, 500.0, seed=1)
    rec = read_wfdb(str(mk.write_cinc(tmp_path, "E00001", x12, 500.0, ["426783006"])))
    np.testing.assert_allclose(rec.signal, x12, atol=1e-3)
    assert header_fields(rec.comments)["dx"] == "426783006"


def test_read_cpsc2018_struct(tmp_path, mk):
    x = mk.sine_record(12, 7500, 500.0, seed=2)
    mk.write_cpsc_original(tmp_path, {"A0001": (x, [1, 5])})
    rec = read_cpsc2018_mat(str(tmp_path / "A0001.mat"))
    assert rec.fs == 500.0 and rec.leads == CPSC2018_LEADS
    np.testing.assert_allclose(rec.signal, x)
    assert header_fields(rec.comments) == {"age": "40", "sex": "Female"}


def test_corrupt_files_raise(tmp_path, mk):
    x = mk.sine_record(2, 500, 100.0, seed=3)
    mk.write_wfdb(tmp_path, "bad", x, 100.0, ["I", "II"])
    (tmp_path / "bad.dat").write_bytes(b"\x00\x01")  # truncated signal file
    with pytest.raises((ValueError, OSError, IndexError)):
        read_wfdb(str(tmp_path / "bad"))
    (tmp_path / "junk.mat").write_bytes(b"not a mat file")
    with pytest.raises(Exception):  # noqa: B017 - scipy raises various errors
        read_cpsc2018_mat(str(tmp_path / "junk.mat"))


def test_real_ptbdb_record(shared):
    rec = read_wfdb(str(shared("ptbdb") / "s0010_re"))
    assert rec.signal.shape == (15, 38400) and rec.fs == 1000
    assert rec.leads[:3] == ("i", "ii", "iii") and rec.leads[-3:] == ("vx", "vy", "vz")
    assert any("Myocardial infarction" in c for c in rec.comments)
