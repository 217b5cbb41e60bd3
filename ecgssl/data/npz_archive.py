"""A preprocessed numpy archive as a dataset (``npz``), e.g. the PTB-XL dev archive.

The archive holds one signal array and, optionally, labels, class names, folds or splits,
patient and record ids, the sampling rate and the lead names, each under a key. The default
keys are those of the PTB-XL superdiagnostic dev archive (``X``, ``y``, ``classes``,
``strat_fold``, ``patient_id``, ``ecg_id``, ``fs``, ``leads``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ecgssl.data.arrays import hash_split
from ecgssl.data.base import SPLITS, ECGDataset
from ecgssl.data.preprocess import (
    STANDARDIZE,
    canonical_lead,
    standardize_records,
    standardize_with_train_stats,
)
from ecgssl.errors import DataNotFoundError, InvalidValueError
from ecgssl.registry import DATASETS

__all__ = ["NPZ_KEYS", "SIGNAL_LAYOUTS", "load_npz_archive"]

#: Default key of each array in the archive (the PTB-XL dev archive's names).
NPZ_KEYS: dict[str, str] = {
    "signals": "X", "labels": "y", "classes": "classes", "folds": "strat_fold",
    "patient_ids": "patient_id", "record_ids": "ecg_id", "fs": "fs", "leads": "leads",
}  # fmt: skip
#: How the signal array is laid out: detected (``"auto"``) or stated.
SIGNAL_LAYOUTS = ("auto", "records_leads_time", "records_time_leads")


def _read(path: Path) -> dict[str, np.ndarray]:
    if path.is_dir() or path.suffix.lower() != ".npz":
        raise InvalidValueError(f"npz root must be the path of a .npz file, got {str(path)!r}")
    if not path.is_file():
        raise DataNotFoundError(f"npz archive {str(path)!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as e:  # zip errors, pickled object arrays...
        raise InvalidValueError(f"npz archive {str(path)!r} is unreadable: {e}") from e


def _key(
    arrays: Mapping[str, np.ndarray], what: str, key: str | None, path: Path
) -> np.ndarray | None:
    """The array under ``key``; ``None`` when the key is ``None`` or is the default and absent;
    an error naming the key when a key the user chose is absent."""
    if key is None:
        return None
    if key in arrays:
        return arrays[key]
    if key == NPZ_KEYS[what]:
        return None
    raise KeyError(
        f"npz archive {str(path)!r} has no array {key!r} ({what}); its arrays: "
        f"{', '.join(sorted(arrays))}"
    )


def _orient(x: np.ndarray, n_leads: int, layout: str, key: str) -> np.ndarray:
    """(records, leads, time) from (records, leads, time) or (records, time, leads)."""
    if x.ndim != 3:
        raise InvalidValueError(
            f"signals {key!r} must be 3-D, (records, leads, time) or (records, time, leads), "
            f"got shape {x.shape}"
        )
    if layout == "records_leads_time":
        transpose = False
    elif layout == "records_time_leads":
        transpose = True
    else:
        a, b = x.shape[1] == n_leads, x.shape[2] == n_leads
        if a and b:
            raise InvalidValueError(
                f"signals {key!r} of shape {x.shape} is ambiguous: both axes 1 and 2 have "
                f"{n_leads} entries; pass signal_layout='records_leads_time' or "
                "'records_time_leads'"
            )
        if not (a or b):
            raise InvalidValueError(
                f"signals {key!r} of shape {x.shape} has no axis of {n_leads} leads (the "
                "number of lead names); expected (records, leads, time) or (records, time, leads)"
            )
        transpose = b
    out = np.swapaxes(x, 1, 2) if transpose else x
    if out.shape[1] != n_leads:
        raise InvalidValueError(
            f"signals {key!r} has {out.shape[1]} leads in layout {layout!r} but {n_leads} lead "
            "names were given"
        )
    return np.ascontiguousarray(out)


def _labels(
    y: np.ndarray, n: int, key: str, classes: Sequence[str] | None
) -> tuple[np.ndarray, tuple[str, ...], bool]:
    """Multi-hot float32 labels (records, classes), class names, and whether multi-label."""
    if y.shape[0] != n:
        raise InvalidValueError(f"labels {key!r} has {y.shape[0]} rows for {n} records")
    if y.ndim == 1:
        if not np.issubdtype(y.dtype, np.integer) or (len(y) and y.min() < 0):
            raise InvalidValueError(
                f"labels {key!r} is 1-D, so it must hold non-negative integer class indices, "
                f"got dtype {y.dtype}"
            )
        k = max(int(y.max()) + 1, len(classes or ()))
        out, multilabel = np.eye(k, dtype=np.float32)[y], False
    elif y.ndim == 2:
        if not np.isin(y, (0, 1)).all():
            raise InvalidValueError(
                f"labels {key!r} is 2-D, so it must be a multi-hot matrix of 0s and 1s"
            )
        out, multilabel = y.astype(np.float32), True
    else:
        raise InvalidValueError(
            f"labels {key!r} must be 1-D class indices or 2-D multi-hot, got {y.shape}"
        )
    names = tuple(str(c) for c in classes) if classes is not None else tuple(
        f"class{i}" for i in range(out.shape[1])
    )  # fmt: skip
    if len(names) != out.shape[1]:
        raise InvalidValueError(
            f"{len(names)} class names for {out.shape[1]} label columns ({key!r})"
        )
    return out, names, multilabel


def _fold_list(split: str, value: int | str | Sequence[int]) -> list[int]:
    """Fold numbers from a list, a single number (``--dataset-option val_folds=8``) or a
    comma-separated string (``"1,2,3"``); a clear error for anything else."""
    error = InvalidValueError(
        f"{split}_folds must be fold numbers (a list, one number or '1,2,3'), got {value!r}"
    )
    items: Any = [v for v in value.split(",") if v.strip()] if isinstance(value, str) else value
    if isinstance(items, (int, np.integer)) and not isinstance(items, bool):
        items = [items]
    if not isinstance(items, Sequence):
        raise error
    try:
        return [int(f) for f in items]
    except (TypeError, ValueError):
        raise error from None


def _fold_split(
    folds: np.ndarray, mapping: dict[str, int | str | Sequence[int] | None]
) -> tuple[np.ndarray, dict[str, list[int]]]:
    """Split names from fold numbers: the folds given per split, or by default the highest
    fold as test, the next as val and the rest as train. Unlisted folds -> "" (dropped)."""
    present = sorted(int(f) for f in np.unique(folds))
    if all(v is None for v in mapping.values()):
        if len(present) < 3:
            raise InvalidValueError(
                f"the archive has only folds {present}: pass train_folds/val_folds/test_folds "
                "(or split_key) to say which records go where"
            )
        chosen = {"train": present[:-2], "val": [present[-2]], "test": [present[-1]]}
    else:
        chosen = {s: _fold_list(s, v) if v is not None else [] for s, v in mapping.items()}
        seen: dict[int, str] = {}
        for s, fs in chosen.items():
            for f in fs:
                if f in seen:
                    raise InvalidValueError(
                        f"fold {f} is listed in both {seen[f]}_folds and {s}_folds"
                    )
                seen[f] = s
        absent = sorted(set(seen) - set(present))
        if absent:
            raise InvalidValueError(f"folds {absent} are not in the archive (its folds: {present})")
        if mapping.get("train") is None:  # val/test named, train not: train is the rest
            chosen["train"] = [f for f in present if f not in seen]
    split = np.full(len(folds), "", dtype=object)
    for s, fs in chosen.items():
        split[np.isin(folds, fs)] = s
    return split.astype(str), chosen


@DATASETS.register("npz", "npz_archive")
def load_npz_archive(
    root: str | Path | None = None,
    split: str | Sequence[str] | None = None,
    *,
    fs: float | None = None,
    leads: Sequence[str] | None = None,
    train_folds: int | str | Sequence[int] | None = None,
    val_folds: int | str | Sequence[int] | None = None,
    test_folds: int | str | Sequence[int] | None = None,
    split_key: str | None = None,
    signals_key: str = NPZ_KEYS["signals"],
    labels_key: str | None = NPZ_KEYS["labels"],
    classes_key: str | None = NPZ_KEYS["classes"],
    folds_key: str | None = NPZ_KEYS["folds"],
    patient_key: str | None = NPZ_KEYS["patient_ids"],
    record_key: str | None = NPZ_KEYS["record_ids"],
    fs_key: str | None = NPZ_KEYS["fs"],
    leads_key: str | None = NPZ_KEYS["leads"],
    signal_layout: str = "auto",
    standardize: str = "none",
    name: str | None = None,
) -> ECGDataset:
    """A preprocessed ``.npz`` archive (signals plus optional labels, folds, ids) as a dataset.

    The signals are loaded as they are stored (float16 becomes float32): **no filtering or
    re-standardisation by default**, because archives such as the PTB-XL dev archive are
    already band-passed and z-scored per lead (so they are not in mV). Keys with their
    default names are used when present and ignored when absent; a key you name that is
    absent is an error. Pass ``None`` for a key to ignore that array.

    Splits, in order of precedence: ``split_key`` (an array of ``"train"``/``"val"``/
    ``"test"``); folds (``folds_key``) mapped by ``train_folds``/``val_folds``/``test_folds``
    (without ``train_folds``, every fold not listed for val or test is ``train``; with it,
    records in no listed fold are dropped; without any of them, the highest fold is
    ``test``, the next ``val`` and the rest ``train``: PTB-XL's 1-8/9/10, or 1-7/8/9 for
    the dev archive); otherwise a hash of the patient (else record) id, 70/15/15 %.

    Args:
        root: Path of the ``.npz`` file.
        split: Return only ``"train"``, ``"val"`` or ``"test"`` (``None``: every record).
        fs: Sampling rate in Hz; required when the archive has no ``fs_key`` array, and must
            agree with it otherwise.
        leads: Lead names; required when the archive has no ``leads_key`` array.
        train_folds, val_folds, test_folds: Fold numbers of each split: a list, one number
            or a comma-separated string (``"1,2,3"``, handy on the command line).
        split_key: Key of a per-record split-name array (instead of folds).
        signals_key: Key of the signals, (records, leads, time) or (records, time, leads).
        labels_key: Key of the labels: (records, classes) multi-hot, or (records,) indices.
        classes_key: Key of the class names.
        folds_key: Key of the integer fold per record.
        patient_key: Key of the patient id per record (keeps a patient in one split when
            hashing; used by patient-aware label fractions and the leakage guard).
        record_key: Key of the record id per record.
        fs_key: Key of the (scalar) sampling rate.
        leads_key: Key of the lead names.
        signal_layout: ``"auto"`` (the axis whose size is the number of leads; an error when
            both axes match), ``"records_leads_time"`` or ``"records_time_leads"``.
        standardize: ``"none"`` (default), ``"record"`` (each lead of each record to zero mean
            and unit variance) or ``"train"`` (per-lead statistics of the train split).
        name: Dataset name (default: the file name without ``.npz``).

    Raises:
        ValueError: ``root`` missing or not a ``.npz``, wrong shapes, NaN/Inf signals, bad
            labels, missing ``fs``/``leads``, or a bad fold mapping.
        KeyError: a key you named is absent (the message lists the archive's arrays).
        FileNotFoundError: the file does not exist.
    """
    if root is None:
        raise InvalidValueError(
            "dataset 'npz' is read from disk: pass root= (the path of the .npz file)"
        )
    if signal_layout not in SIGNAL_LAYOUTS:
        raise InvalidValueError(
            f"signal_layout must be one of {SIGNAL_LAYOUTS}, got {signal_layout!r}"
        )
    if standardize not in STANDARDIZE:
        raise InvalidValueError(f"standardize must be one of {STANDARDIZE}, got {standardize!r}")
    folds_given = any(v is not None for v in (train_folds, val_folds, test_folds))
    if split_key is not None and folds_given:
        raise InvalidValueError(
            "pass either split_key or train_folds/val_folds/test_folds, not both"
        )
    path = Path(root).expanduser()
    arrays = _read(path)
    if signals_key not in arrays:
        raise KeyError(
            f"npz archive {str(path)!r} has no signals array {signals_key!r}; its arrays: "
            f"{', '.join(sorted(arrays))} (pass signals_key=)"
        )
    raw = arrays[signals_key]
    if not np.issubdtype(raw.dtype, np.number):
        raise InvalidValueError(f"signals {signals_key!r} must be numeric, got dtype {raw.dtype}")

    fs_arr = _key(arrays, "fs", fs_key, path)
    if fs_arr is not None:
        if fs_arr.size != 1:
            raise InvalidValueError(f"fs {fs_key!r} must be one number, got shape {fs_arr.shape}")
        stored_fs = float(fs_arr.reshape(()))
        if fs is not None and not math.isclose(float(fs), stored_fs):
            raise InvalidValueError(
                f"fs={fs} disagrees with the archive's {fs_key!r} = {stored_fs:g} Hz; the "
                "signals are not resampled here (combine_datasets(..., fs=) resamples)"
            )
        fs = stored_fs
    if fs is None:
        raise InvalidValueError(
            f"npz archive {str(path)!r} has no sampling-rate array {fs_key!r}: pass fs= (Hz)"
        )
    if not (math.isfinite(float(fs)) and float(fs) > 0):
        raise InvalidValueError(f"fs must be a positive number of Hz, got {fs!r}")
    leads_arr = _key(arrays, "leads", leads_key, path)
    if leads is None and leads_arr is None:
        raise InvalidValueError(
            f"npz archive {str(path)!r} has no lead-name array {leads_key!r}: pass leads= "
            "(e.g. ecgssl.validation.STANDARD_LEADS)"
        )
    names = tuple(canonical_lead(str(n)) for n in (leads if leads is not None else leads_arr))  # type: ignore[union-attr]
    if leads is not None and leads_arr is not None:
        stored = tuple(canonical_lead(str(n)) for n in leads_arr)
        if stored != names:
            raise InvalidValueError(f"leads={list(names)} disagrees with the archive's {leads_key!r} = {list(stored)}")  # fmt: skip

    x = _orient(raw, len(names), signal_layout, signals_key).astype(np.float32, copy=False)
    n = x.shape[0]
    bad = ~np.isfinite(x).all(axis=(1, 2))
    if bad.any():
        raise InvalidValueError(
            f"signals {signals_key!r}: {int(bad.sum())} of {n} records contain NaN or Inf "
            f"(first: {np.flatnonzero(bad)[:5].tolist()})"
        )

    def per_record(what: str, key: str | None) -> np.ndarray | None:
        a = _key(arrays, what, key, path)
        if a is not None and (a.ndim != 1 or len(a) != n):
            raise InvalidValueError(
                f"{what} {key!r} must have one entry per record ({n},), got {a.shape}"
            )
        return a

    pids_raw, rids_raw = (
        per_record("patient_ids", patient_key),
        per_record("record_ids", record_key),
    )
    pids = None if pids_raw is None else pids_raw.astype(str)
    rids = (
        rids_raw.astype(str)
        if rids_raw is not None
        else np.array([f"rec{i:05d}" for i in range(n)])
    )
    labels, multilabel = None, True
    classes: tuple[str, ...] = ()
    y = _key(arrays, "labels", labels_key, path)
    if y is not None:
        cls = _key(arrays, "classes", classes_key, path)
        labels, classes, multilabel = _labels(
            y, n, str(labels_key), None if cls is None else [str(c) for c in cls]
        )

    info: dict[str, Any] = {"root": str(path), "signals_dtype": str(raw.dtype),
                            "standardize": standardize}  # fmt: skip
    record_info: dict[str, np.ndarray] = {}
    if split_key is not None:
        split_arr = per_record("split", split_key)
        assert split_arr is not None
        split_arr = split_arr.astype(str)
        unknown = sorted(set(np.unique(split_arr).tolist()) - set(SPLITS))
        if unknown:
            raise InvalidValueError(f"split {split_key!r} holds {unknown}; expected only {SPLITS}")
        info["split"] = f"from array {split_key!r}"
    else:
        folds = per_record("folds", folds_key)
        if folds is None and folds_given:
            raise InvalidValueError(
                f"train_folds/val_folds/test_folds need a fold array, and the archive has no "
                f"{folds_key!r}; pass folds_key="
            )
        if folds is not None:
            if not np.issubdtype(folds.dtype, np.integer):
                raise InvalidValueError(
                    f"folds {folds_key!r} must be integers, got dtype {folds.dtype}"
                )
            split_arr, chosen = _fold_split(
                folds, {"train": train_folds, "val": val_folds, "test": test_folds}
            )
            info["split"] = {f"{s}_folds": v for s, v in chosen.items()}
            record_info["fold"] = folds.astype(np.int64)
        else:
            split_arr = hash_split(pids if pids is not None else rids)
            info["split"] = (
                "hash of the patient id" if pids is not None else "hash of the record id"
            )
    keep = split_arr != ""
    if not keep.any():
        raise InvalidValueError(
            "no record is in a listed fold: check train_folds/val_folds/test_folds"
        )
    if not keep.all():
        info["dropped_records"] = int((~keep).sum())
        x, split_arr, rids = x[keep], split_arr[keep], rids[keep]
        labels = None if labels is None else labels[keep]
        pids = None if pids is None else pids[keep]
        record_info = {k: v[keep] for k, v in record_info.items()}
    if standardize == "record":
        x = standardize_records(x).astype(np.float32)
    elif standardize == "train":
        x, info["standardization"] = standardize_with_train_stats(x, split_arr == "train")
    ds = ECGDataset(
        signals=x, fs=float(fs), leads=names, labels=labels, classes=classes, split=split_arr,
        record_ids=rids, patient_ids=pids, multilabel=multilabel,
        name=name or path.stem, info=info, record_info=record_info,
    )  # fmt: skip
    return ds if split is None else ds.subset(split)
