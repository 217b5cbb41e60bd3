"""Shared steps of the on-disk loaders: checking the data folder, and turning stored signals
plus per-record metadata into an :class:`ECGDataset` (train-split standardisation, split
selection)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ecgssl.data.arrays import hash_split
from ecgssl.data.base import SPLITS, ECGDataset
from ecgssl.data.preprocess import PreprocessConfig, standardize_with_train_stats
from ecgssl.data.sampling import iterative_stratification
from ecgssl.data.store import StoredSignals
from ecgssl.errors import DataNotFoundError, InvalidValueError

__all__ = ["SPLIT_METHODS", "finish_dataset", "make_split", "multi_hot", "require_root"]

#: How a split is made where the data have no official one.
SPLIT_METHODS = ("hash", "stratified")


def require_root(root: str | Path | None, dataset: str, expected: Sequence[str], url: str) -> Path:
    """``root`` as a folder holding every path in ``expected``, else a clear error.

    Raises:
        ValueError: ``root`` is ``None``.
        FileNotFoundError: the folder or an expected file is missing; the message names what
            was expected, where, and where the official data can be downloaded.
    """
    what = ", ".join(expected)
    if root is None:
        raise InvalidValueError(
            f"dataset {dataset!r} is read from disk: pass root= (the folder holding {what}). "
            f"Download it from {url} (ecgssl never downloads at runtime)."
        )
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DataNotFoundError(
            f"{dataset} root {str(path)!r} is not a folder; expected a folder holding {what}. "
            f"Download the data from {url}."
        )
    absent = [e for e in expected if not (path / e).exists()]
    if absent:
        raise DataNotFoundError(
            f"{dataset} root {str(path)!r} lacks {', '.join(absent)} (expected {what}). "
            f"Is it the right folder? The official data: {url}."
        )
    return path


def multi_hot(
    label_sets: Sequence[Sequence[str]], classes: Sequence[str] | None = None, min_count: int = 0
) -> tuple[np.ndarray, tuple[str, ...]]:
    """A (records, classes) float32 multi-hot matrix from each record's label names.

    Args:
        label_sets: The label names of each record.
        classes: Class order; default: the names occurring more than ``min_count`` times,
            sorted.
        min_count: Drop classes with this many records or fewer (only when ``classes`` is
            ``None``).
    """
    if classes is None:
        counts: dict[str, int] = {}
        for labels in label_sets:
            for c in set(labels):
                counts[c] = counts.get(c, 0) + 1
        classes = sorted(c for c, k in counts.items() if k > min_count)
    col = {c: j for j, c in enumerate(classes)}
    y = np.zeros((len(label_sets), len(classes)), dtype=np.float32)
    for i, labels in enumerate(label_sets):
        for c in labels:
            if c in col:
                y[i, col[c]] = 1.0
    return y, tuple(classes)


def make_split(
    record_ids: np.ndarray,
    labels: np.ndarray | None,
    method: str = "hash",
    patient_ids: np.ndarray | None = None,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
) -> np.ndarray:
    """A deterministic train/val/test split for data without an official one.

    Args:
        record_ids: Record ids.
        labels: Multi-hot labels (for ``"stratified"``).
        method: ``"hash"``: from a hash of each patient (else record) id, so a record's split
            never changes when others are added or removed; ``"stratified"``: iterative
            stratification (seed 0) of whole patients (else records), so every label is
            spread over the three splits; it depends on the set of records.
        patient_ids: Patient per record, or ``None``.
        fractions: Train/val/test fractions.
    """
    if method not in SPLIT_METHODS:
        raise InvalidValueError(f"split_method must be one of {SPLIT_METHODS}, got {method!r}")
    groups = patient_ids if patient_ids is not None else record_ids
    if method == "hash" or labels is None:
        return hash_split(groups, fractions)
    fold = iterative_stratification(labels, fractions, seed=0, groups=groups)
    return np.asarray(SPLITS)[fold]


def finish_dataset(
    stored: StoredSignals,
    config: PreprocessConfig,
    *,
    name: str,
    keep: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    classes: Sequence[str] = (),
    split: np.ndarray | None = None,
    patient_ids: np.ndarray | None = None,
    record_info: Mapping[str, np.ndarray] | None = None,
    info: Mapping[str, Any] | None = None,
    subset: str | Sequence[str] | None = None,
    multilabel: bool = True,
) -> ECGDataset:
    """An :class:`ECGDataset` from stored signals and row-aligned metadata.

    Args:
        stored: The signals (rows in ``stored.record_ids`` order).
        config: Preprocessing options (``standardize="train"`` is applied here).
        name: Dataset name.
        keep: Boolean mask of the rows to keep (e.g. records with labels for the task).
        labels, classes, split, patient_ids, record_info: Row-aligned metadata.
        info: Free-form dataset metadata (sources, task...).
        subset: Return only this split (or these splits).
        multilabel: Whether a record may carry several labels.
    """
    n = len(stored.record_ids)
    keep = np.ones(n, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    if not keep.any():
        raise InvalidValueError(f"{name}: no record is left (none has a label for this task?)")
    rows = slice(None) if keep.all() else np.flatnonzero(keep)
    signals = stored.signals[rows]
    meta = {"lead_missing": stored.lead_missing, **(record_info or {})}
    extra: dict[str, Any] = {
        "preprocess": config.to_dict(),
        "skipped": dict(stored.skipped),
        "cache": str(stored.cache_path) if stored.cache_path is not None else None,
        "from_cache": stored.from_cache,
        **(info or {}),
    }
    split_arr = None if split is None else np.asarray(split)[rows]
    if config.standardize == "train":
        if split_arr is None:
            raise InvalidValueError(f"standardize='train' needs a split, and {name} has none")
        signals, extra["standardization"] = standardize_with_train_stats(
            signals, split_arr == "train"
        )
    ds = ECGDataset(
        signals=signals, fs=stored.fs, leads=stored.leads,
        labels=None if labels is None else labels[rows], classes=tuple(classes),
        split=split_arr, record_ids=np.asarray(stored.record_ids)[rows],
        patient_ids=None if patient_ids is None else np.asarray(patient_ids)[rows],
        multilabel=multilabel, name=name, info=extra,
        record_info={k: np.asarray(v)[rows] for k, v in meta.items()},
    )  # fmt: skip
    if subset is None:
        return ds
    names = [subset] if isinstance(subset, str) else list(subset)
    for s in names:
        if s not in SPLITS:
            raise InvalidValueError(f"split must be one of {SPLITS} (or None for all), got {s!r}")
    return ds.subset(names)
