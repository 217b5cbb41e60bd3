"""ECGDataset as a torch Dataset, per-record metadata, and the dataset registry."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import ecgssl
from ecgssl.data import ECGDataset


def _ds(labels=True):
    x = np.arange(4 * 2 * 5, dtype=np.float32).reshape(4, 2, 5)
    y = np.eye(4, 3, dtype=np.float32) if labels else None
    return ECGDataset(signals=x, fs=100.0, leads=("I", "II"), labels=y,
                      classes=("a", "b", "c") if labels else (),
                      split=np.array(["train", "train", "val", "test"]),
                      record_info={"age": np.array([10, 20, 30, 40])})  # fmt: skip


def test_torch_dataset_and_dataloader():
    ds = _ds()
    x, y = ds[2]
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32 and tuple(x.shape) == (2, 5)
    assert y.tolist() == [0.0, 0.0, 1.0]
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert tuple(xb.shape) == (4, 2, 5) and tuple(yb.shape) == (4, 3)
    assert tuple(_ds(labels=False)[0].shape) == (2, 5)


def test_record_info_follows_selection_and_is_validated():
    ds = _ds()
    assert ds.subset("train").record_info["age"].tolist() == [10, 20]
    assert ds.select([3, 0]).record_info["age"].tolist() == [40, 10]
    with pytest.raises(ValueError, match=r"record_info\['age'\] has 2 entries for 4 records"):
        ECGDataset(signals=ds.signals, fs=100.0, leads=("I", "II"),
                   record_info={"age": np.array([1, 2])})  # fmt: skip


def test_registered_loaders_and_typos():
    names = ecgssl.list_datasets()
    for n in ("ptbxl", "physionet2021", "cpsc2018", "georgia", "chapman", "ningbo", "ptb",
              "ptbxl_cinc", "incart", "ludb", "wfdb_folder", "arrays", "synthetic", "mimic_iv_ecg",
              "code15"):  # fmt: skip
        assert n in names
    with pytest.raises(KeyError, match="ptbxl"):
        ecgssl.load_dataset("ptbx", root=".")
