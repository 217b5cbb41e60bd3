"""Patient ids travel from a dataset through the batches to methods that use them (CLOCS)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgssl.augment import Compose, TwoViews
from ecgssl.data.base import ECGDataset
from ecgssl.methods import CLOCS
from ecgssl.registry import AUGMENTATIONS, ENCODERS, METHODS
from ecgssl.training import Pretrainer
from ecgssl.training.batches import LoaderBatches, TensorBatches
from ecgssl.training.inputs import prepare_training_data

FS = 50.0
LEADS = ("I", "II", "V1")


def dataset(n: int = 24, patients: np.ndarray | None = None) -> ECGDataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, 100, generator=g)
    x[:, 0, 0] = torch.arange(n, dtype=torch.float32)  # record index, to check the pairing
    return ECGDataset(signals=x.numpy(), fs=FS, leads=LEADS, name="tiny", patient_ids=patients)


def views() -> TwoViews:
    return TwoViews(Compose([AUGMENTATIONS.build("amplitude_scale")]))


def test_batches_carry_each_records_patient_code():
    patients = np.array([f"p{i // 3}" for i in range(24)])  # 3 records per patient
    batches, _ = prepare_training_data(
        dataset(patients=patients), None, None, batch_size=5, drop_last=False, seed=0
    )
    assert isinstance(batches, TensorBatches)
    seen = 0
    for x, ids in batches.epoch():
        assert ids is not None and ids.dtype == torch.int64 and ids.shape == (x.shape[0],)
        record = x[:, 0, 0].long()
        assert torch.equal(ids, record // 3)  # codes of "p0".."p7" sort like the patients
        seen += x.shape[0]
    assert seen == 24


def test_sharded_batches_keep_ids_with_their_records():
    signals = torch.from_numpy(dataset().signals)
    batches = TensorBatches(signals, 8, True, 0, patient_ids=torch.arange(24) * 10)
    batches.shard(1, 2)
    for x, ids in batches.epoch():
        assert torch.equal(ids, x[:, 0, 0].long() * 10)


def test_datasets_without_patient_ids_and_loaders_give_none():
    batches, _ = prepare_training_data(dataset(), None, None, batch_size=8, drop_last=False, seed=0)
    assert all(ids is None for _, ids in batches.epoch())
    loader = [(torch.randn(4, 3, 100), torch.zeros(4))]  # (signals, labels): labels are not ids
    assert [ids for _, ids in LoaderBatches(loader).epoch()] == [None]


def test_wrong_number_of_patient_ids_is_refused():
    with pytest.raises(ValueError, match="one entry per record"):
        TensorBatches(torch.zeros(6, 3, 10), 2, False, 0, patient_ids=torch.arange(5))


class Spy:
    """Wrap a method's training_step and record the keyword arguments it receives."""

    def __init__(self, method) -> None:
        self.calls: list[dict] = []
        inner = method.training_step

        def step(v1, v2, **kwargs):
            self.calls.append(kwargs)
            return inner(v1, v2, **kwargs)

        method.training_step = step


def fit(name: str, patients: np.ndarray | None, **hparams) -> Spy:
    torch.manual_seed(0)
    enc = ENCODERS.build("multibranch", n_leads=3, per_lead_dim=8, width=4)
    method = METHODS.build({"name": name, **hparams}, encoder=enc)
    spy = Spy(method)
    Pretrainer(method, views(), epochs=1, batch_size=6, progress=False, device="cpu").fit(
        dataset(patients=patients)
    )
    return spy


def test_pretrainer_passes_patient_ids_to_clocs():
    patients = np.repeat(np.arange(8), 3)
    spy = fit("clocs", patients)
    assert len(spy.calls) == 4
    assert all(set(c) == {"patient_ids"} and c["patient_ids"].shape == (6,) for c in spy.calls)
    # every batch's codes are those of its records
    assert sum(int(c["patient_ids"].numel()) for c in spy.calls) == 24


def test_methods_that_do_not_use_patient_ids_never_get_them():
    spy = fit("bell", np.repeat(np.arange(8), 3))
    assert spy.calls and all(c == {} for c in spy.calls)


def test_same_patient_positives_change_clocs_training():
    """Shared patients change the CLOCS loss; unique ids or patient_positives=False do not."""

    def loss(patients, **hp) -> float:
        torch.manual_seed(0)
        enc = ENCODERS.build("multibranch", n_leads=3, per_lead_dim=8, width=4)
        method = METHODS.build({"name": "clocs", **hp}, encoder=enc)
        result = Pretrainer(method, views(), epochs=1, batch_size=6, progress=False,
                            device="cpu").fit(dataset(patients=patients))  # fmt: skip
        return result.history[-1]["loss"]

    none = loss(None)
    unique = loss(np.arange(24))
    shared = loss(np.repeat(np.arange(4), 6))
    ignored = loss(np.repeat(np.arange(4), 6), patient_positives=False)
    assert unique == pytest.approx(none, rel=1e-5)
    assert ignored == pytest.approx(none, rel=1e-6)
    assert shared != pytest.approx(none, rel=1e-3)


def test_clocs_records_the_switch_in_its_hparams():
    enc = ENCODERS.build("multibranch", n_leads=3, per_lead_dim=8, width=4)
    method = CLOCS(enc, patient_positives=False)
    assert method.hparams["patient_positives"] is False
