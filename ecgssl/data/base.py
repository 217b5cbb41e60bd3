"""The in-memory dataset container every loader returns.

An :class:`ECGDataset` holds signals shaped (records, leads, time) at one sampling rate,
the lead names, optional multi-hot labels, and the split each record belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ecgssl.errors import InvalidTypeError, InvalidValueError

__all__ = ["SPLITS", "ECGDataset"]

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ECGDataset(Dataset):
    """Signals, labels and metadata of one dataset (or one split of it).

    It is also a map-style :class:`torch.utils.data.Dataset`: ``ds[i]`` is the signal of
    record ``i`` as a float32 (leads, time) tensor, paired with its label vector when the
    dataset is labeled, so it can be handed to a :class:`torch.utils.data.DataLoader`.

    Attributes:
        signals: float32 array (records, leads, time), in millivolts unless stated.
        fs: Sampling rate in Hz.
        leads: Lead names, one per signal row.
        labels: float32 multi-hot array (records, classes), or ``None`` if unlabeled.
        classes: Class names, one per label column.
        split: Split name per record ("train", "val", "test"), or ``None``.
        record_ids: Identifier per record.
        patient_ids: Patient identifier per record, or ``None`` if unknown.
        multilabel: Whether a record may carry several labels at once.
        name: Dataset name (for reports and checkpoints).
        info: Free-form metadata (generation parameters, preprocessing, source).
        record_info: Per-record metadata arrays (e.g. ``age``, ``sex``, ``lead_missing``),
            each with one entry (row) per record; :meth:`select` keeps them aligned.
    """

    signals: np.ndarray
    fs: float
    leads: tuple[str, ...]
    labels: np.ndarray | None = None
    classes: tuple[str, ...] = ()
    split: np.ndarray | None = None
    record_ids: np.ndarray | None = None
    patient_ids: np.ndarray | None = None
    multilabel: bool = True
    name: str = "arrays"
    info: dict[str, Any] = field(default_factory=dict)
    record_info: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s = self.signals
        if not isinstance(s, np.ndarray) or s.ndim != 3:
            raise InvalidValueError(
                f"signals must be a numpy array shaped (records, leads, time), got "
                f"{getattr(s, 'shape', type(s).__name__)}"
            )
        if s.shape[0] == 0:
            raise InvalidValueError("dataset is empty: signals has 0 records")
        if not np.issubdtype(s.dtype, np.floating):
            raise InvalidTypeError(f"signals must be floating point, got dtype {s.dtype}")
        if not (isinstance(self.fs, (int, float)) and self.fs > 0):
            raise InvalidValueError(f"fs must be a positive number of Hz, got {self.fs!r}")
        if len(self.leads) != s.shape[1]:
            raise InvalidValueError(f"{len(self.leads)} lead names given for {s.shape[1]} leads")
        n = s.shape[0]
        if self.labels is not None:
            if self.labels.ndim != 2 or self.labels.shape[0] != n:
                raise InvalidValueError(
                    f"labels must be shaped (records, classes) = ({n}, C), got {self.labels.shape}"
                )
            if len(self.classes) != self.labels.shape[1]:
                raise InvalidValueError(
                    f"{len(self.classes)} class names given for {self.labels.shape[1]} label columns"
                )
        for name in ("split", "record_ids", "patient_ids"):
            arr = getattr(self, name)
            if arr is not None and len(arr) != n:
                raise InvalidValueError(f"{name} has {len(arr)} entries for {n} records")
        for key, arr in self.record_info.items():
            if len(arr) != n:
                raise InvalidValueError(
                    f"record_info[{key!r}] has {len(arr)} entries for {n} records"
                )
        if self.split is not None:
            unknown = set(np.unique(self.split).tolist()) - set(SPLITS)
            if unknown:
                raise InvalidValueError(f"unknown split names {sorted(unknown)}; expected {SPLITS}")

    def __len__(self) -> int:
        return int(self.signals.shape[0])

    def __getitem__(self, index: int) -> Any:
        """Record ``index``: a (leads, time) float32 tensor, or ``(signal, labels)``."""
        x = torch.tensor(np.asarray(self.signals[index], dtype=np.float32))
        if self.labels is None:
            return x
        return x, torch.tensor(np.asarray(self.labels[index], dtype=np.float32))

    @property
    def n_leads(self) -> int:
        return int(self.signals.shape[1])

    @property
    def length(self) -> int:
        """Number of time samples per record."""
        return int(self.signals.shape[2])

    @property
    def duration(self) -> float:
        """Record duration in seconds."""
        return self.length / float(self.fs)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def select(self, index: np.ndarray | Sequence[int]) -> ECGDataset:
        """A new dataset holding the records at ``index`` (integer or boolean array)."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        if idx.size == 0:
            raise InvalidValueError(f"selection from dataset {self.name!r} is empty")

        def take(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]

        return replace(
            self,
            signals=self.signals[idx],
            labels=take(self.labels),
            split=take(self.split),
            record_ids=take(self.record_ids),
            patient_ids=take(self.patient_ids),
            record_info={k: v[idx] for k, v in self.record_info.items()},
        )

    def subset(self, split: str | Sequence[str]) -> ECGDataset:
        """Records of one split (or several), e.g. ``ds.subset("train")``."""
        names = [split] if isinstance(split, str) else list(split)
        for s in names:
            if s not in SPLITS:
                raise InvalidValueError(f"unknown split {s!r}; expected one of {SPLITS}")
        if self.split is None:
            raise InvalidValueError(f"dataset {self.name!r} has no split assignment")
        mask = np.isin(self.split, names)
        if not mask.any():
            raise InvalidValueError(f"dataset {self.name!r} has no records in split {names}")
        return self.select(mask)

    def summary(self) -> str:
        """One line describing the dataset."""
        parts = [
            f"{self.name}: {len(self)} records x {self.n_leads} leads x {self.length} samples "
            f"({self.duration:g} s at {self.fs:g} Hz)"
        ]
        if self.labels is not None:
            parts.append(f"{self.n_classes} classes")
        if self.split is not None:
            vals, counts = np.unique(self.split, return_counts=True)
            parts.append(", ".join(f"{v} {c}" for v, c in zip(vals, counts)))
        return "; ".join(parts)
