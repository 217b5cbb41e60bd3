"""PhysioNet/CinC 2021: scored classes with equivalent codes merged, sources, variable
lengths and rates; the real sample's Dx code counts."""

from collections import Counter

import numpy as np
import pytest

import ecgssl
from ecgssl.data.physionet import SCORED_CLASSES, read_dx_mapping, record_source


@pytest.fixture
def cinc_tree(tmp_path, mk):
    """Georgia, Chapman, Ningbo, INCART-like records with varied lengths and rates."""
    root = tmp_path / "training"
    spec = [  # (folder, name, fs, seconds, Dx codes)
        ("WFDB_Ga", "E00001", 500, 10, ["59118001", "426783006"]),  # RBBB == CRBBB class
        ("WFDB_Ga", "E00002", 500, 15, ["164889003", "17338001"]),  # VPB == PVC class
        ("WFDB_Ga", "E00003", 500, 6, ["251146004"]),
        ("WFDB_ChapmanShaoxing", "JS00010", 500, 10, ["426177001"]),
        ("WFDB_Ningbo", "JS20001", 500, 10, ["55930002"]),  # unscored code only
        ("WFDB_StPetersburg", "I0001", 257, 30, ["164889003"]),
    ]
    for folder, name, fs, seconds, dx in spec:
        x = mk.sine_record(12, int(fs * seconds), fs, seed=len(name) + seconds)
        mk.write_cinc(root / folder, name, x, fs, dx, age=50, sex="Female")
    return root


def _labels(ds):
    return {r: {c for c, v in zip(ds.classes, row) if v} for r, row in zip(ds.record_ids, ds.labels)}  # fmt: skip


def test_scored_classes_merge_equivalent_codes(cinc_tree):
    ds = ecgssl.load_dataset("physionet2021", root=cinc_tree, progress=False)
    assert len(ds.classes) == 26 and ds.classes == tuple(c for c, _ in SCORED_CLASSES)
    got = _labels(ds)
    assert got["WFDB_Ga/E00001"] == {"713427006|59118001", "426783006"}
    assert got["WFDB_Ga/E00002"] == {"164889003", "427172004|17338001"}
    assert got["WFDB_Ningbo/JS20001"] == set()  # kept, all-negative
    assert ds.record_info["dx"].tolist()[4] == "55930002"
    assert ds.record_info["sex"].tolist() == ["Female"] * 6
    assert ds.signals.shape == (6, 12, 5000) and ds.fs == 500.0 and ds.patient_ids is None
    assert sorted(ds.record_info["source"].tolist()) == sorted(
        ["georgia"] * 3 + ["chapman", "ningbo", "incart"])  # fmt: skip
    dropped = ecgssl.load_dataset("physionet2021", root=cinc_tree, drop_unlabeled=True, progress=False)  # fmt: skip
    assert "WFDB_Ningbo/JS20001" not in dropped.record_ids.tolist() and len(dropped) == 5


def test_variable_lengths_are_cropped_and_padded_and_rates_resampled(cinc_tree):
    ds = ecgssl.load_dataset("physionet2021", root=cinc_tree, progress=False)
    i = {r: k for k, r in enumerate(ds.record_ids)}
    short = ds.signals[i["WFDB_Ga/E00003"]]
    assert (short[:, 3000:] == 0).all() and (short[:, :3000] != 0).any()  # 6 s, padded
    incart = ds.signals[i["WFDB_StPetersburg/I0001"]]  # 257 Hz -> 500 Hz, first 10 s
    spectrum = np.abs(np.fft.rfft(incart[11] - incart[11].mean()))
    assert np.fft.rfftfreq(5000, 1 / 500)[np.argmax(spectrum)] == pytest.approx(5.0, abs=0.1)
    centre = ecgssl.load_dataset("physionet2021", root=cinc_tree, crop="center", window=5,
                                 fs=250, progress=False)  # fmt: skip
    assert centre.signals.shape == (6, 12, 1250)


def test_sources_and_user_classes(cinc_tree):
    assert record_source("E07500") == "georgia" and record_source("HR06000") == "ptbxl_cinc"
    assert record_source("JS00001") == "chapman" and record_source("JS20000") == "ningbo"
    assert record_source("A0001") == "cpsc2018" and record_source("S0001") == "ptb"
    ga = ecgssl.load_dataset("georgia", root=cinc_tree, progress=False)
    assert ga.name == "georgia" and len(ga) == 3
    both = ecgssl.load_dataset("physionet2021", root=cinc_tree, source=["chapman", "ningbo"],
                               classes=["426177001", "55930002|164889003"], progress=False)  # fmt: skip
    assert both.classes == ("426177001", "55930002|164889003")
    assert both.labels.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(ValueError, match="unknown source"):
        ecgssl.load_dataset("physionet2021", root=cinc_tree, source="mitbih")
    with pytest.raises(FileNotFoundError, match=r"source \['ptb'\].*physionet.org"):
        ecgssl.load_dataset("ptb", root=cinc_tree, progress=False)
    with pytest.raises(ValueError, match=r"root=.*challenge-2021"):
        ecgssl.load_dataset("georgia")


def test_missing_lead_raises_or_is_zero_filled(tmp_path, mk):
    x = mk.sine_record(2, 5000, 500, seed=0)
    mk.write_cinc(tmp_path, "E00009", x, 500, ["426783006"], leads=("I", "II"))
    with pytest.raises(ValueError, match=r"\['III'.*missing_leads='zero'"):
        ecgssl.load_dataset("georgia", root=tmp_path, progress=False)
    ds = ecgssl.load_dataset("georgia", root=tmp_path, missing_leads="zero", progress=False)
    assert ds.record_info["lead_missing"][0].tolist() == [False, False] + [True] * 10
    assert (ds.signals[0, 2:] == 0).all()


def test_real_sample(shared):
    root = shared("cinc2021")
    assert read_dx_mapping(root / "dx_mapping_scored.csv") == SCORED_CLASSES
    weights_header = (root / "weights.csv").read_text().splitlines()[0].split(",")[1:]
    assert {c for c, _ in SCORED_CLASSES} == set(weights_header)
    ds = ecgssl.load_dataset("physionet2021", root=root, progress=False)
    assert ds.signals.shape == (51, 12, 5000) and ds.fs == 500.0
    counts = Counter(c for dx in ds.record_info["dx"] for c in dx.split(","))
    expected = {"427084000": 23, "284470004": 20, "426783006": 15, "164934002": 11,
                "698252002": 9, "426177001": 7}  # fmt: skip
    assert {c: counts[c] for c in expected} == expected
    assert counts.most_common(6) == list(expected.items())
    column = dict(zip(ds.classes, ds.labels.sum(axis=0)))
    for code in ("427084000", "426783006", "164934002", "698252002", "426177001"):
        assert column[code] == expected[code]
    sources = Counter(ds.record_info["source"].tolist())
    assert sources == {"georgia": 20, "ptbxl_cinc": 10, "ningbo": 20, "chapman": 1}
    assert len(ecgssl.load_dataset("ptbxl_cinc", root=root, progress=False)) == 10
