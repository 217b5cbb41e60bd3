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
from ecgssl.data.signal_cache import SignalCache
from ecgssl.data.streamed import ArrayRows, StreamedSignals, stream_caches
from ecgssl.errors import InvalidTypeError, InvalidValueError
from ecgssl.training.batches import LoaderBatches, TensorBatches
from ecgssl.training.stream_batches import StreamBatches
from ecgssl.validation import check_lead_names, check_positive, check_signal, lead_indices

__all__ = ["AnyBatches", "TrainingData", "is_memory_mapped", "prepare_training_data"]

TrainingData = ECGDataset | StreamedSignals | SignalCache | Tensor | np.ndarray | Iterable[Any]
AnyBatches = TensorBatches | StreamBatches | LoaderBatches


def is_memory_mapped(x: Any) -> bool:
    """Whether ``x`` is an array mapped from a file (e.g. a cached dataset's signals)."""
    return isinstance(x, np.memmap) and getattr(x, "filename", None) is not None


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
    stream: bool | None = None,
) -> tuple[AnyBatches, dict[str, Any]]:
    """Check the training data and wrap them as batches.

    Args:
        data: An :class:`ECGDataset` (its train split when it has splits), a
            :class:`~ecgssl.data.streamed.StreamedSignals` or
            :class:`~ecgssl.data.signal_cache.SignalCache` (streamed), a (records, leads,
            time) float tensor or numpy array, or an iterable of batches (e.g. a DataLoader).
        fs: Sampling rate in Hz; required for tensors and loaders, checked against a dataset's.
        leads: For a dataset: the leads to train on, by name, in this order. For a tensor or
            loader: the names of its leads (recorded in checkpoints and checked on resume).
        batch_size: Records per batch.
        drop_last: Drop the last incomplete batch of each epoch.
        seed: Seed of the batch order.
        stream: Read batches from the data as training goes instead of copying the training
            records into one tensor (:class:`StreamBatches`). ``None`` (default): stream
            caches, streamed sets and memory-mapped datasets, copy the rest; ``True``: stream
            datasets and arrays too; ``False``: copy everything (a streamed set is read
            whole). Both paths give the same batches for the same seed.

    Returns:
        The batches and the signal contract ``{"fs", "leads", "n_records", "record_length"}``.
    """
    if isinstance(data, SignalCache):
        data = stream_caches([data], name=data.path.parent.name)
    if isinstance(data, StreamedSignals):
        if stream is False:
            everything = data.read(np.arange(len(data)))
            return prepare_training_data(everything, data.fs, data.leads, batch_size=batch_size,
                                         drop_last=drop_last, seed=seed)  # fmt: skip
        return _streamed(data, fs, leads, batch_size, drop_last, seed)
    if isinstance(data, ECGDataset) and (
        stream or (stream is None and is_memory_mapped(data.signals))
    ):
        return _streamed(_dataset_stream(data, fs, leads), None, None, batch_size, drop_last, seed)
    if isinstance(data, (Tensor, np.ndarray)) and stream:
        if fs is None:
            raise InvalidValueError("fs (sampling rate in Hz) is required when fitting on an array")
        arr = data.numpy() if isinstance(data, Tensor) else data
        if not np.issubdtype(arr.dtype, np.floating) or arr.ndim != 3 or arr.shape[0] == 0:
            raise InvalidValueError(
                f"streamed training signals must be a non-empty floating (records, leads, time) "
                f"array, got dtype {arr.dtype} shape {arr.shape}"
            )
        given = None if leads is None else list(check_lead_names(leads, n_leads=arr.shape[1]))
        streamed = StreamedSignals(
            [ArrayRows(arr)], fs=float(check_positive(fs, "fs")),
            leads=given or [f"lead{i}" for i in range(arr.shape[1])],
        )  # fmt: skip
        batches, signal = _streamed(streamed, None, None, batch_size, drop_last, seed)
        return batches, {**signal, "leads": given}
    if isinstance(data, ECGDataset):
        ds = data.subset("train") if data.split is not None else data
        _check_dataset_rate(ds, fs)
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


def _check_dataset_rate(data: ECGDataset, fs: float | None) -> None:
    """The dataset's fs and lead names are valid, and ``fs`` (if given) is the dataset's."""
    check_positive(data.fs, f"fs of dataset {data.name!r}")
    check_lead_names(data.leads, n_leads=data.n_leads, name=f"leads of dataset {data.name!r}")
    if fs is not None and float(check_positive(fs, "fs")) != float(data.fs):
        raise InvalidValueError(
            f"fs mismatch: fs={fs:g} Hz was given but dataset {data.name!r} is sampled at "
            f"{data.fs:g} Hz; resample the dataset or drop the fs argument"
        )


def _dataset_stream(data: ECGDataset, fs: float | None,
                    leads: Sequence[str] | None) -> StreamedSignals:  # fmt: skip
    """A dataset's train split as a streamed set (the signals stay where they are)."""
    _check_dataset_rate(data, fs)
    rows = np.flatnonzero(data.split == "train") if data.split is not None else None
    if rows is not None and rows.size == 0:
        raise InvalidValueError(f"dataset {data.name!r} has no records in split ['train']")
    idx = None if leads is None else np.asarray(lead_indices(leads, data.leads))
    names = list(data.leads) if idx is None else [data.leads[i] for i in idx]
    pids = data.patient_ids if rows is None or data.patient_ids is None else data.patient_ids[rows]
    return StreamedSignals(
        [ArrayRows(data.signals)], fs=float(data.fs), leads=names, lead_index=[idx],
        rows=[rows], patient_ids=_patient_codes(pids), name=data.name,
        info={"preprocessing": data.info.get("preprocessing"),
              "normalisation": data.info.get("normalisation", data.info.get("normalization"))},
    )  # fmt: skip


def _streamed(data: StreamedSignals, fs: float | None, leads: Sequence[str] | None,
              batch_size: int, drop_last: bool, seed: int) -> tuple[StreamBatches, dict[str, Any]]:  # fmt: skip
    """Batches streamed from ``data`` and its signal contract."""
    if fs is not None and float(check_positive(fs, "fs")) != data.fs:
        raise InvalidValueError(
            f"fs mismatch: fs={fs:g} Hz was given but the streamed set {data.name!r} is "
            f"sampled at {data.fs:g} Hz; drop the fs argument"
        )
    if leads is not None and list(leads) != list(data.leads):
        raise InvalidValueError(
            f"leads {list(leads)} were given but the streamed set {data.name!r} has "
            f"{list(data.leads)}; choose leads when building it (stream_caches(leads=...))"
        )
    n = data.epoch_records
    if drop_last and n < batch_size:
        raise InvalidValueError(
            f"batch_size={batch_size} is larger than the {n} training records; "
            "lower batch_size or set drop_last=False"
        )
    signal: dict[str, Any] = {"fs": data.fs, "leads": list(data.leads), "n_records": n,
              "record_length": int(data.length),
              **{k: data.info[k] for k in ("preprocessing", "normalisation") if k in data.info}}  # fmt: skip
    return StreamBatches(data, batch_size, drop_last, seed), signal


def _patient_codes(patient_ids: np.ndarray | None) -> Tensor | None:
    """Patient ids (strings or numbers) as int64 codes, equal codes for equal ids."""
    if patient_ids is None:
        return None
    ids = np.asarray(patient_ids)
    return torch.from_numpy(group_codes(len(ids), ids).astype(np.int64))
