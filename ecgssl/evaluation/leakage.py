"""Leakage guard: refuse to score test records (or patients) the encoder was pretrained on."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from ecgssl.data.base import ECGDataset
from ecgssl.encoders.base import Encoder
from ecgssl.errors import InvalidValueError

__all__ = ["LeakageError", "check_leakage", "provenance", "record_provenance"]

log = logging.getLogger("ecgssl")
_ATTR = "_ecgssl_pretraining_data"


class LeakageError(InvalidValueError):
    """The evaluation split overlaps the encoder's pretraining data."""


def _ids(ids: Any) -> frozenset[str] | None:
    return None if ids is None else frozenset(map(str, np.asarray(ids).tolist()))


def record_provenance(encoder: Encoder, dataset: ECGDataset) -> None:
    """Remember on ``encoder`` which records and patients it was pretrained on.

    For a combined dataset (:func:`ecgssl.data.combine_datasets`) the original ids of each
    source dataset are remembered too (``info["sources"]``), so a source's own test split
    is checked against them.
    """
    info: dict[str, Any] = {"dataset": dataset.name, "n_records": len(dataset)}
    for key in ("record_ids", "patient_ids"):
        info[key] = _ids(getattr(dataset, key))
    meta = dataset.record_info
    if "source_dataset" in meta:
        src = np.asarray(meta["source_dataset"]).astype(str)
        info["sources"] = {
            str(name): {"record_ids": _ids(np.asarray(meta["source_record_id"])[src == name]),
                        "patient_ids": _ids(np.asarray(meta["source_patient_id"])[src == name])}
            for name in np.unique(src)
        }  # fmt: skip
    previous = provenance(encoder)
    if previous is not None and previous["dataset"] == info["dataset"]:
        for key in ("record_ids", "patient_ids"):
            if previous[key] is not None and info[key] is not None:
                info[key] = previous[key] | info[key]
    setattr(encoder, _ATTR, info)


def provenance(encoder: Encoder) -> dict[str, Any] | None:
    """What :func:`record_provenance` stored on ``encoder`` (``None`` if nothing)."""
    return getattr(encoder, _ATTR, None)


def check_leakage(
    encoder: Encoder, test: ECGDataset, allow_leakage: bool = False, split: str = "test"
) -> int:
    """Raise :class:`LeakageError` if ``test`` shares records or patients with the encoder's
    pretraining data (same dataset name, or a source of a combined pretraining set with that
    name); returns the number of overlapping records.

    With ``allow_leakage=True`` the overlap is reported with a warning and an error-level log
    record instead, and evaluation goes on.
    """
    info = provenance(encoder)
    if info is not None and info["dataset"] != test.name:
        info = info.get("sources", {}).get(test.name)
    if info is None:
        return 0
    overlap = np.zeros(len(test), dtype=bool)
    what = []
    for key, label in (("record_ids", "records"), ("patient_ids", "patients")):
        ids = getattr(test, key)
        if info[key] is None or ids is None:
            continue
        hit = np.isin(np.asarray(ids).astype(str), list(info[key]))
        if hit.any():
            first = np.asarray(ids)[hit][:3].tolist()
            what.append(f"{int(hit.sum())} {label} (e.g. {first})")
        overlap |= hit
    n = int(overlap.sum())
    if n == 0:
        return 0
    msg = (
        f"the {split} split of {test.name!r} shares {' and '.join(what)} with the encoder's "
        "pretraining data, so its scores would be optimistic"
    )
    if not allow_leakage:
        raise LeakageError(msg + "; pretrain on the train split only, or pass allow_leakage=True")
    log.error("LEAKAGE ALLOWED: %s", msg)
    warnings.warn(f"LEAKAGE ALLOWED: {msg}", RuntimeWarning, stacklevel=3)
    return n
