"""CPSC 2018 in the original layout (structs + REFERENCE.csv); the real sample's labels."""

import numpy as np
import pytest

import ecgssl
from ecgssl.data.cpsc2018 import CPSC2018_CLASSES


def test_original_layout_labels_and_lengths(tmp_path, mk):
    recs = {
        "A0001": (mk.sine_record(12, 3000, 500, seed=1), [1]),  # 6 s: padded
        "A0002": (mk.sine_record(12, 9000, 500, seed=2), [2, 6]),  # 18 s: cropped
        "A0003": (mk.sine_record(12, 5000, 500, seed=3), [5, 7, 9]),
    }
    root = mk.write_cpsc_original(tmp_path / "cpsc", recs)
    ds = ecgssl.load_dataset("cpsc2018", root=root, progress=False)
    assert ds.info["layout"] == "original" and ds.classes == CPSC2018_CLASSES
    got = {r: [c for c, v in zip(ds.classes, row) if v] for r, row in zip(ds.record_ids, ds.labels)}  # fmt: skip
    assert got == {"A0001": ["Normal"], "A0002": ["AF", "PAC"], "A0003": ["RBBB", "PVC", "STE"]}
    assert ds.signals.shape == (3, 12, 5000)
    np.testing.assert_allclose(ds.signals[1], recs["A0002"][0][:, :5000], atol=1e-6)
    assert (ds.signals[0, :, 3000:] == 0).all()
    assert ds.record_info["age"].tolist() == ["40"] * 3
    v1 = ecgssl.load_dataset("cpsc2018", root=root, leads=["V1"], window=20, fs=100, progress=False)  # fmt: skip
    assert v1.signals.shape == (3, 1, 2000)
    np.testing.assert_allclose(v1.signals[0, 0, 50:550].mean(), 6.0, atol=0.01)  # V1 offset
    with pytest.raises(TypeError, match="classes"):
        ecgssl.load_dataset("cpsc2018", root=root, classes=["1"], progress=False)


def test_training_set_subfolders_and_missing_records(tmp_path, mk):
    root = mk.write_cpsc_original(tmp_path / "cpsc", {
        "A0001": (mk.sine_record(12, 5000, 500, seed=1), [1]),
        "A0002": (mk.sine_record(12, 5000, 500, seed=2), [4]),
        "A0003": (mk.sine_record(12, 5000, 500, seed=3), [9]),
    })  # fmt: skip
    (root / "TrainingSet2").mkdir()
    (root / "A0002.mat").rename(root / "TrainingSet2" / "A0002.mat")
    (root / "A0003.mat").unlink()
    with pytest.warns(UserWarning, match=r"1 of 3 records skipped — A0003: missing"):
        ds = ecgssl.load_dataset("cpsc2018", root=root, progress=False)
    assert ds.record_ids.tolist() == ["A0001", "A0002"]
    assert ds.labels.argmax(axis=1).tolist() == [0, 3]


def test_challenge_layout_is_read_by_physionet_loader(tmp_path, mk):
    mk.write_cinc(tmp_path, "A0005", mk.sine_record(12, 5000, 500, seed=0), 500, ["164889003"])
    mk.write_cinc(tmp_path, "E0005", mk.sine_record(12, 5000, 500, seed=0), 500, ["164889003"])
    ds = ecgssl.load_dataset("cpsc2018", root=tmp_path, progress=False)
    assert ds.record_ids.tolist() == ["A0005"] and ds.classes[0] == "164889003"


def test_real_sample(shared):
    ds = ecgssl.load_dataset("cpsc2018", root=shared("cpsc2018"), progress=False)
    numbers = {r: int(np.flatnonzero(row)[0]) + 1 for r, row in zip(ds.record_ids, ds.labels)}
    assert numbers == {"A1980": 6, "A1981": 8, "A1982": 3, "A1983": 1, "A1984": 8, "A1985": 8,
                       "A1986": 5, "A1987": 5, "A1988": 3, "A1989": 3}  # fmt: skip
    assert ds.labels.sum() == 10 and ds.signals.shape == (10, 12, 5000) and ds.fs == 500.0
    full = ecgssl.load_dataset("cpsc2018", root=shared("cpsc2018"), window=60, progress=False)
    lengths = [int(np.flatnonzero(np.abs(x).sum(0))[-1]) + 1 for x in full.signals]
    assert min(lengths) == 5000 and max(lengths) == 27157
