"""In-memory numpy signals as a dataset (``arrays``)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from ecgssl.data.base import ECGDataset
from ecgssl.errors import InvalidTypeError, InvalidValueError
from ecgssl.registry import DATASETS
from ecgssl.validation import STANDARD_LEADS

__all__ = ["hash_split", "load_arrays"]


def hash_split(
    ids: Sequence[Any] | np.ndarray, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
) -> np.ndarray:
    """Deterministic train/val/test assignment from a hash of each id (stable across runs,
    machines and dataset order)."""
    u = np.array([int(hashlib.sha256(str(i).encode()).hexdigest()[:8], 16) / 16**8 for i in ids])
    return np.where(
        u < fractions[0], "train", np.where(u < fractions[0] + fractions[1], "val", "test")
    )


@DATASETS.register("arrays", "numpy")
def load_arrays(
    signals: np.ndarray,
    fs: float,
    leads: Sequence[str] | None = None,
    labels: np.ndarray | None = None,
    classes: Sequence[str] | None = None,
    split: Sequence[str] | None = None,
    record_ids: Sequence[str] | None = None,
    patient_ids: Sequence[str] | None = None,
    name: str = "arrays",
) -> ECGDataset:
    """Wrap in-memory signals (records, leads, time) as an :class:`ECGDataset`.

    Args:
        signals: Float array (records, leads, time), in mV.
        fs: Sampling rate in Hz.
        leads: Lead names (default: the standard 12 for 12 leads, else ``lead0``...).
        labels: Integer class indices (records,) -> one-hot single-label task, or a multi-hot
            matrix (records, classes) -> multi-label task.
        classes: Class names (default ``class0``...).
        split: "train"/"val"/"test" per record (default: 70/15/15 by hashed record or
            patient id).
        record_ids: Identifier per record (default ``rec00000``...).
        patient_ids: Patient per record; when given, the default split keeps each patient's
            records in one split.
        name: Dataset name.

    Raises:
        ValueError: wrong shapes, NaN/Inf signals (naming how many records), bad labels.
    """
    x = np.asarray(signals)
    if x.ndim != 3:
        raise InvalidValueError(f"signals must be shaped (records, leads, time), got {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise InvalidTypeError(f"signals must be numeric, got dtype {x.dtype}")
    x = x.astype(np.float32, copy=False)
    bad = ~np.isfinite(x).all(axis=(1, 2))
    if bad.any():
        raise InvalidValueError(
            f"{int(bad.sum())} of {len(x)} records contain NaN or Inf values "
            f"(first: {np.flatnonzero(bad)[:5].tolist()})"
        )
    n, n_leads, _ = x.shape
    if leads is None:
        leads = STANDARD_LEADS if n_leads == 12 else tuple(f"lead{i}" for i in range(n_leads))
    ids = np.array(record_ids if record_ids is not None else [f"rec{i:05d}" for i in range(n)])
    pids = None if patient_ids is None else np.asarray(patient_ids)
    y, multilabel = None, True
    if labels is not None:
        lab = np.asarray(labels)
        if lab.ndim == 1:
            if not np.issubdtype(lab.dtype, np.integer) or lab.min() < 0:
                raise InvalidValueError("1-D labels must be non-negative integer class indices")
            y = np.eye(int(lab.max()) + 1, dtype=np.float32)[lab]
            multilabel = False
        elif lab.ndim == 2:
            if not np.isin(lab, (0, 1)).all():
                raise InvalidValueError("2-D labels must be a multi-hot matrix of 0s and 1s")
            y = lab.astype(np.float32)
        else:
            raise InvalidValueError(
                f"labels must be 1-D indices or a 2-D multi-hot matrix, got {lab.shape}"
            )
        if classes is None:
            classes = tuple(f"class{i}" for i in range(y.shape[1]))
    if split is None:
        split_arr = hash_split(pids if pids is not None else ids)
    else:
        split_arr = np.asarray(split)
    return ECGDataset(
        signals=x, fs=float(fs), leads=tuple(leads), labels=y, classes=tuple(classes or ()),
        split=split_arr, record_ids=ids, patient_ids=pids, multilabel=multilabel, name=name,
    )  # fmt: skip
