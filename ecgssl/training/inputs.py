"""Validate what :meth:`Pretrainer.fit` is given and turn it into resumable batches.

Every refusal names the problem: NaN/Inf values, wrong dtype or shape, an empty dataset, a
sampling rate that contradicts the dataset's, unknown or duplicate lead names, a batch larger
than the dataset.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ecgssl.data.base import ECGDataset
from ecgssl.data.sampling import group_codes
from ecgssl.errors import InvalidTypeError, InvalidValueError
from ecgssl.training.batches import LoaderBatches, TensorBatches
from ecgssl.validation import check_lead_names, check_positive, check_signal, lead_indices

__all__ = ["TrainingData", "prepare_training_data"]

TrainingData = ECGDataset | Tensor | np.ndarray | Iterable[Any]


def _as_tensor(x: np.ndarray | Tensor, name: str) -> Tensor:
    if isinstance(x, np.ndarray):
        if not np.issubdtype(x.dtype, np.floating):
            raise InvalidTypeError(f"{name} must be a floating-point array, got dtype {x.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(x))
    check_signal(x, name=name)
    if x.shape[0] == 0:
        raise InvalidValueError(f"{name} is empty: 0 records")
    if x.shape[-1] == 0:
        raise InvalidValueError(f"{name} records are too short: 0 time samples")
    return x.float()


def prepare_training_data(
    data: TrainingData,
    fs: float | None,
    leads: Sequence[str] | None,
    *,
    batch_size: int,
    drop_last: bool,
    seed: int,
) -> tuple[TensorBatches | LoaderBatches, dict[str, Any]]:
    """Check the training data and wrap them as batches.

    Args:
        data: An :class:`ECGDataset` (its train split when it has splits), a (records, leads,
            time) float tensor or numpy array, or an iterable of batches (e.g. a DataLoader).
        fs: Sampling rate in Hz; required for tensors and loaders, checked against a dataset's.
        leads: For a dataset: the leads to train on, by name, in this order. For a tensor or
            loader: the names of its leads (recorded in checkpoints and checked on resume).
        batch_size: Records per batch.
        drop_last: Drop the last incomplete batch of each epoch.
        seed: Seed of the batch order.

    Returns:
        The batches and the signal contract ``{"fs", "leads", "n_records", "record_length"}``.
    """
    if isinstance(data, ECGDataset):
        ds = data.subset("train") if data.split is not None else data
        check_positive(ds.fs, f"fs of dataset {ds.name!r}")
        check_lead_names(ds.leads, n_leads=ds.n_leads, name=f"leads of dataset {ds.name!r}")
        if fs is not None and float(check_positive(fs, "fs")) != float(ds.fs):
            raise InvalidValueError(
                f"fs mismatch: fs={fs:g} Hz was given but dataset {ds.name!r} is sampled at "
                f"{ds.fs:g} Hz; resample the dataset or drop the fs argument"
            )
        signals = torch.from_numpy(np.ascontiguousarray(ds.signals))
        names: list[str] | None = list(ds.leads)
        if leads is not None:
            idx = lead_indices(leads, ds.leads)
            signals, names = signals[:, idx], [ds.leads[i] for i in idx]
        x = _as_tensor(signals, f"dataset {ds.name!r}")
        fs = float(ds.fs)
        patients = _patient_codes(ds.patient_ids)
        extra: dict[str, Any] = {
            "preprocessing": ds.info.get("preprocessing"),
            "normalisation": ds.info.get("normalisation", ds.info.get("normalization")),
        }
    elif isinstance(data, (Tensor, np.ndarray)):
        if fs is None:
            raise InvalidValueError("fs (sampling rate in Hz) is required when fitting on a tensor")
        fs = float(check_positive(fs, "fs"))
        x = _as_tensor(data, "training signals")
        names = None if leads is None else list(check_lead_names(leads, n_leads=x.shape[1]))
        extra = {}
        patients = None
    elif isinstance(data, Iterable) and not isinstance(data, (str, bytes)):
        if fs is None:
            raise InvalidValueError(
                "fs (sampling rate in Hz) is required when fitting on a DataLoader"
            )
        fs = float(check_positive(fs, "fs"))
        names = None if leads is None else list(check_lead_names(leads))
        return LoaderBatches(data), {"fs": fs, "leads": names, "n_records": None}
    else:
        raise InvalidTypeError(
            "training data must be an ECGDataset, a (records, leads, time) tensor or array, or "
            f"an iterable of batches; got {type(data).__name__}"
        )
    n = x.shape[0]
    if drop_last and n < batch_size:
        raise InvalidValueError(
            f"batch_size={batch_size} is larger than the {n} training records; "
            "lower batch_size or set drop_last=False"
        )
    signal = {"fs": fs, "leads": names, "n_records": n, "record_length": int(x.shape[-1]), **extra}
    return TensorBatches(x, batch_size, drop_last, seed, patient_ids=patients), signal


def _patient_codes(patient_ids: np.ndarray | None) -> Tensor | None:
    """Patient ids (strings or numbers) as int64 codes, equal codes for equal ids."""
    if patient_ids is None:
        return None
    ids = np.asarray(patient_ids)
    return torch.from_numpy(group_codes(len(ids), ids).astype(np.int64))
