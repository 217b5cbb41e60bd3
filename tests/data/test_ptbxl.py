"""PTB-XL: benchmark tasks, folds, rates, lead order; the real sample's facts."""

import numpy as np
import pytest
import wfdb

import ecgssl
from ecgssl.data.ptbxl import fold_to_split, ptbxl_labels

EXPECTED = {  # task -> {ecg_id: labels} for the miniature tree of conftest.PTBXL_ROWS
    "all": {"1": {"NORM", "LVOLT", "SR"}, "2": {"IMI", "SR"}, "3": {"ASMI", "LAFB", "AFIB"},
            "4": {"NDT", "SR"}, "5": {"SR"}, "6": {"NORM", "AFIB"}},
    "diagnostic": {"1": {"NORM"}, "2": {"IMI"}, "3": {"ASMI", "LAFB"}, "4": {"NDT"},
                   "6": {"NORM"}},
    "subdiagnostic": {"1": {"NORM"}, "2": {"IMI"}, "3": {"AMI", "LAFB/LPFB"}, "4": {"STTC"},
                      "6": {"NORM"}},
    "superdiagnostic": {"1": {"NORM"}, "2": {"MI"}, "3": {"MI", "CD"}, "4": {"STTC"},
                        "6": {"NORM"}},
    "form": {"1": {"LVOLT"}, "4": {"NDT"}},
    "rhythm": {"1": {"SR"}, "2": {"SR"}, "3": {"AFIB"}, "4": {"SR"}, "5": {"SR"},
               "6": {"AFIB"}},
}  # fmt: skip


@pytest.mark.parametrize("task", list(EXPECTED))
def test_tasks_labels_and_unlabeled_records_dropped(ptbxl_tree, task):
    ds = ecgssl.load_dataset("ptbxl", root=ptbxl_tree, task=task, progress=False)
    got = {rid: {c for c, v in zip(ds.classes, row) if v} for rid, row in zip(ds.record_ids, ds.labels)}  # fmt: skip
    assert got == EXPECTED[task]
    assert list(ds.classes) == sorted(set().union(*EXPECTED[task].values()))
    assert ds.multilabel and ds.info["task"] == task


def test_folds_patients_shapes_and_lead_order(ptbxl_tree):
    ds = ecgssl.load_dataset("ptbxl", root=ptbxl_tree, task="all", progress=False)
    assert ds.signals.shape == (6, 12, 1000) and ds.fs == 100.0
    assert ds.leads == ecgssl.data.ptbxl.STANDARD_LEADS  # AVR/AVL/AVF in the headers
    assert ds.split.tolist() == ["train", "train", "val", "test", "train", "train"]
    assert ds.patient_ids.tolist() == ["101", "101", "102", "103", "104", "105"]
    assert ds.record_info["strat_fold"].tolist() == [3, 3, 9, 10, 1, 8]
    assert [fold_to_split(f) for f in (1, 8, 9, 10)] == ["train", "train", "val", "test"]
    test = ecgssl.load_dataset("ptbxl", root=ptbxl_tree, task="all", split="test", progress=False)
    assert test.record_ids.tolist() == ["4"]
    x, y = ds[3]
    assert tuple(x.shape) == (12, 1000) and y.sum() == 2


def test_rates_and_lead_selection(ptbxl_tree):
    hr = ecgssl.load_dataset("ptbxl", root=ptbxl_tree, fs=500, leads=["v1", "I"],
                             progress=False)  # fmt: skip
    assert hr.signals.shape == (5, 2, 5000) and hr.leads == ("V1", "I")
    raw = wfdb.rdrecord(str(ptbxl_tree / "records500/00000/00001_hr")).p_signal.T
    np.testing.assert_allclose(hr.signals[0], raw[[6, 0]], atol=1e-6)
    mid = ecgssl.load_dataset("ptbxl", root=ptbxl_tree, fs=250, window=4, progress=False)
    assert mid.signals.shape == (5, 12, 1000) and mid.fs == 250.0
    assert mid.info["resolution"] == "hr"
    spectrum = np.abs(np.fft.rfft(mid.signals[0, 11] - mid.signals[0, 11].mean()))
    assert np.fft.rfftfreq(1000, 1 / 250)[np.argmax(spectrum)] == pytest.approx(5.0)


def test_train_standardisation_uses_train_records_only(ptbxl_tree):
    ds = ecgssl.load_dataset("ptbxl", root=ptbxl_tree, task="all", standardize="train",
                             progress=False)  # fmt: skip
    train = ds.signals[ds.split == "train"]
    np.testing.assert_allclose(train.mean(axis=(0, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(train.std(axis=(0, 2)), 1, atol=1e-3)
    assert len(ds.info["standardization"]["mean"]) == 12


def test_missing_root_and_files_name_what_and_where(tmp_path, ptbxl_tree):
    with pytest.raises(ValueError, match=r"root=.*physionet.org/content/ptb-xl"):
        ecgssl.load_dataset("ptbxl")
    with pytest.raises(FileNotFoundError, match=r"ptbxl_database.csv.*physionet"):
        ecgssl.load_dataset("ptbxl", root=tmp_path / "nowhere")
    (ptbxl_tree / "records100").rename(ptbxl_tree / "moved")
    with pytest.raises(FileNotFoundError, match=r"records100/ files .*physionet"):
        ecgssl.load_dataset("ptbxl", root=ptbxl_tree, progress=False)
    with pytest.raises(ValueError, match="task"):
        ecgssl.load_dataset("ptbxl", root=ptbxl_tree, task="diagnosis")


def test_label_helper_ignores_unknown_codes():
    statements = {"NORM": {"diagnostic": "1.0", "diagnostic_class": "NORM"}}
    assert ptbxl_labels([{"NORM": 100.0, "XYZ": 0.0}], statements, "superdiagnostic") == [["NORM"]]


def test_real_sample(shared):
    root = shared("ptbxl")
    with pytest.warns(UserWarning, match="499 of 500 records skipped") as rec:
        ds = ecgssl.load_dataset("ptbxl", root=root, task="all", progress=False)
    assert len(rec) == 1 and "00002_lr" in str(rec[0].message)
    assert ds.signals.shape == (1, 12, 1000) and ds.fs == 100.0
    assert ds.record_ids.tolist() == ["1"] and ds.patient_ids.tolist() == ["15709"]
    assert dict(zip(ds.classes, ds.labels[0])) == {"LVOLT": 1.0, "NORM": 1.0, "SR": 1.0}
    assert ds.record_info["strat_fold"].tolist() == [3] and ds.split.tolist() == ["train"]
    assert len(ds.info["skipped"]) == 499
    raw = wfdb.rdrecord(str(root / "records100/00000/00001_lr"))
    assert raw.sig_name[3:6] == ["AVR", "AVL", "AVF"]
    np.testing.assert_allclose(ds.signals[0], raw.p_signal.T, atol=1e-6)
    with pytest.raises(ValueError, match="strict=True"):
        ecgssl.load_dataset("ptbxl", root=root, strict=True, progress=False)
    with pytest.warns(UserWarning, match="499 of 500"):
        sup = ecgssl.load_dataset("ptbxl", root=root, progress=False)
    assert sup.classes == ("NORM",) and sup.info["from_cache"]


def test_bandpass_and_record_standardisation_through_the_loader(ptbxl_tree):
    raw = ecgssl.load_dataset("ptbxl", root=ptbxl_tree, task="all", progress=False)
    assert raw.signals[0, 11].mean() == pytest.approx(11.0, abs=0.01)  # lead j: offset j mV
    filt = ecgssl.load_dataset("ptbxl", root=ptbxl_tree, task="all", bandpass=(0.5, 40),
                               progress=False)  # fmt: skip
    mid = filt.signals[:, :, 300:700]
    assert np.abs(mid.mean(axis=2)).max() < 0.05  # offsets removed, the 5 Hz sine kept
    np.testing.assert_allclose(mid[:, 11].std(axis=1), 1.2 / np.sqrt(2), rtol=0.05)
    std = ecgssl.load_dataset("ptbxl", root=ptbxl_tree, task="all", standardize="record",
                              progress=False)  # fmt: skip
    np.testing.assert_allclose(std.signals.mean(axis=2), 0, atol=1e-4)
    np.testing.assert_allclose(std.signals.std(axis=2), 1, atol=1e-3)
    assert std.info["preprocess"]["standardize"] == "record"
    assert len({raw.info["cache"], filt.info["cache"], std.info["cache"]}) == 3
