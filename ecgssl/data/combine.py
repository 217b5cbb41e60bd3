"""Several datasets as one unlabeled pretraining set (``combined``), e.g. PTB-XL's train
folds plus the HCE recordings, at one sampling rate, lead set and window.

The sources are concatenated in memory. For corpora larger than memory, build each as a
signal cache and stream them together, with per-source sampling weights:
:func:`ecgssl.data.streamed.stream_caches`."""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ecgssl.data.base import SPLITS, ECGDataset
from ecgssl.data.preprocess import canonical_lead, fix_length, resample
from ecgssl.errors import InvalidTypeError, InvalidValueError
from ecgssl.registry import DATASETS

__all__ = ["combine_datasets", "load_combined"]

DatasetLike = ECGDataset | str | Mapping[str, Any]
#: Sources whose typical record scale differs by more than this factor draw a warning.
_SCALE_RATIO = 10.0


def _common_leads(datasets: Sequence[ECGDataset]) -> tuple[str, ...]:
    first = [canonical_lead(n) for n in datasets[0].leads]
    others = [{canonical_lead(n).lower() for n in d.leads} for d in datasets[1:]]
    common = tuple(n for n in first if all(n.lower() in o for o in others))
    if not common:
        raise InvalidValueError(
            "the datasets share no lead: "
            + "; ".join(f"{d.name}: {list(d.leads)}" for d in datasets)
        )
    return common


def _pick_leads(ds: ECGDataset, leads: Sequence[str]) -> np.ndarray:
    index = {canonical_lead(n).lower(): i for i, n in enumerate(ds.leads)}
    rows = [index.get(canonical_lead(n).lower(), -1) for n in leads]
    absent = [n for n, r in zip(leads, rows) if r < 0]
    if absent:
        raise InvalidValueError(
            f"dataset {ds.name!r} lacks lead(s) {absent} (it has {list(ds.leads)}); choose "
            "leads= from the leads every dataset has"
        )
    return np.asarray(rows)


def _unique_names(datasets: Sequence[ECGDataset], names: Sequence[str] | None) -> list[str]:
    if names is not None:
        if len(names) != len(datasets):
            raise InvalidValueError(f"{len(names)} names for {len(datasets)} datasets")
        if len(set(names)) != len(names):
            raise InvalidValueError(f"names must be distinct, got {list(names)}")
        return [str(n) for n in names]
    out: list[str] = []
    for d in datasets:
        base, k = d.name, 2
        name = base
        while name in out:
            name, k = f"{base}{k}", k + 1
        out.append(name)
    return out


def combine_datasets(
    datasets: Sequence[ECGDataset],
    fs: float | None = None,
    leads: Sequence[str] | None = None,
    window: float | None = None,
    *,
    splits: Sequence[str] = ("train",),
    names: Sequence[str] | None = None,
    crop: str = "start",
    name: str = "combined",
) -> ECGDataset:
    """One unlabeled dataset from the records of several, at a common rate, leads and length.

    Only the ``splits`` of each dataset are kept (by default ``train``, so no record of a
    validation or test split, e.g. PTB-XL's test fold, enters pretraining); a dataset
    without a split assignment contributes every record. Kept records keep their split
    name. Labels are dropped. Record and patient ids are prefixed with the source name
    (``"hce:01"``), so patients stay distinct across sources; a record without a patient id
    is its own patient. ``record_info`` holds each record's ``source`` (the prefix),
    ``source_dataset`` (the source dataset's name) and its original ``source_record_id`` and
    ``source_patient_id``, so the leakage guard (:mod:`ecgssl.evaluation.leakage`) still
    recognises a source's test records.

    Signals are taken as each source stores them: combine sources prepared alike (e.g. the
    PTB-XL dev archive, band-passed and z-scored, with ``hce`` at its default
    ``preprocess="ptbxl"``). A warning is raised when the sources' typical amplitudes differ
    by more than 10x (e.g. mV next to z-scores).

    Args:
        datasets: The datasets (at least one).
        fs: Common rate in Hz; sources at another rate are resampled (polyphase). Default:
            the rate they all share (an error if they differ).
        leads: Common leads, in this order (matched case-insensitively). Default: the leads
            every source has, in the first source's order.
        window: Common record length in seconds: longer records are cropped (``crop``),
            shorter zero-padded at the end. Default: the length they all share (an error
            if they differ).
        splits: Which splits of each source to keep.
        names: Source names used as id prefixes (default: each dataset's name, made
            distinct).
        crop: ``"start"`` or ``"center"``.
        name: Name of the combined dataset.

    Raises:
        ValueError: no dataset, an unknown split, sources that disagree on rate or length
            without ``fs``/``window``, a lead a source lacks, or no record left.
    """
    if not datasets:
        raise InvalidValueError("combine_datasets needs at least one dataset")
    for d in datasets:
        if not isinstance(d, ECGDataset):
            raise InvalidTypeError(f"combine_datasets takes ECGDatasets, got {type(d).__name__}")
    wanted = [splits] if isinstance(splits, str) else list(splits)
    if not wanted or any(s not in SPLITS for s in wanted):
        raise InvalidValueError(f"splits must name some of {SPLITS}, got {splits!r}")
    if crop not in ("start", "center"):
        raise InvalidValueError(f"crop must be 'start' or 'center', got {crop!r}")
    rates = sorted({float(d.fs) for d in datasets})
    if fs is None:
        if len(rates) > 1:
            raise InvalidValueError(f"the datasets are sampled at {rates} Hz: pass fs= to resample them to one rate")  # fmt: skip
        fs = rates[0]
    if not (isinstance(fs, (int, float)) and math.isfinite(fs) and fs > 0):
        raise InvalidValueError(f"fs must be a positive number of Hz, got {fs!r}")
    if window is not None and not (isinstance(window, (int, float)) and window > 0):
        raise InvalidValueError(f"window must be a positive duration in seconds, got {window!r}")
    out_leads = (
        tuple(canonical_lead(n) for n in leads) if leads is not None else _common_leads(datasets)
    )
    labels = _unique_names(datasets, names)

    parts, sources, scale_of = [], [], []
    for d, src in zip(datasets, labels):
        keep = np.ones(len(d), dtype=bool) if d.split is None else np.isin(d.split, wanted)
        if not keep.any():
            warnings.warn(f"dataset {src!r} has no record in splits {wanted}; it adds nothing",
                          UserWarning, stacklevel=2)  # fmt: skip
            continue
        idx = np.flatnonzero(keep)
        x = np.asarray(d.signals[idx][:, _pick_leads(d, out_leads)], dtype=np.float32)
        x = resample(x, float(d.fs), float(fs)).astype(np.float32, copy=False)
        if window is not None:
            x = fix_length(x, round(window * fs), crop)
        rids = d.record_ids[idx] if d.record_ids is not None else np.arange(len(d))[idx]
        rid = np.char.add(f"{src}:", np.asarray(rids).astype(str))
        pid = (rid if d.patient_ids is None
               else np.char.add(f"{src}:", np.asarray(d.patient_ids)[idx].astype(str)))  # fmt: skip
        split = np.asarray(d.split)[idx] if d.split is not None else np.full(len(idx), "train")
        scale = float(np.median(x.std(axis=-1))) if x.size else math.nan
        scale_of.append((src, scale))
        orig_rid = np.asarray(rids).astype(str)
        orig_pid = orig_rid if d.patient_ids is None else np.asarray(d.patient_ids)[idx].astype(str)
        meta = np.stack([np.full(len(idx), src), np.full(len(idx), d.name), orig_rid, orig_pid])
        parts.append((x, rid, pid, split, meta))
        sources.append({"name": src, "dataset": d.name, "records": len(idx),
                        "fs": float(d.fs), "leads": list(d.leads), "scale": scale,
                        "info": {k: v for k, v in d.info.items()
                                 if isinstance(v, (str, int, float, bool, list, dict))}})  # fmt: skip
    if not parts:
        raise InvalidValueError(f"no dataset has records in splits {wanted}")
    lengths = sorted({p[0].shape[-1] for p in parts})
    if len(lengths) > 1:
        raise InvalidValueError(
            f"records have {lengths} samples at {fs:g} Hz after resampling: pass window= "
            "(seconds) to crop/pad every record to one length"
        )
    scales = [v for _, v in scale_of if np.isfinite(v) and v > 0]
    if len(scales) > 1 and max(scales) / min(scales) > _SCALE_RATIO:
        warnings.warn(
            "the sources' typical amplitudes differ by more than 10x ("
            + ", ".join(f"{k}: {v:.3g}" for k, v in scale_of)
            + "): are some in mV and others standardised or in ADC counts? Prepare them alike",
            UserWarning,
            stacklevel=2,
        )
    return ECGDataset(
        signals=np.concatenate([p[0] for p in parts]), fs=float(fs), leads=out_leads,
        split=np.concatenate([p[3] for p in parts]).astype(str),
        record_ids=np.concatenate([p[1] for p in parts]),
        patient_ids=np.concatenate([p[2] for p in parts]), name=name,
        info={"sources": sources, "splits": wanted, "window": window},
        record_info=dict(zip(("source", "source_dataset", "source_record_id", "source_patient_id"),
                             np.concatenate([p[4] for p in parts], axis=1))),
    )  # fmt: skip


@DATASETS.register("combined", "combine")
def load_combined(
    datasets: Sequence[DatasetLike] = (),
    fs: float | None = None,
    leads: Sequence[str] | None = None,
    window: float | None = None,
    *,
    splits: Sequence[str] = ("train",),
    names: Sequence[str] | None = None,
    crop: str = "start",
    progress: bool = True,
) -> ECGDataset:
    """Load each dataset spec and :func:`combine_datasets` them.

    Example::

        ecgssl.load_dataset({"name": "combined", "fs": 100, "datasets": [
            {"name": "npz", "root": "ptbxl_super_100hz_dev.npz", "train_folds": [1, 2, 3, 4, 5, 6, 7]},
            {"name": "hce", "root": "hce"}]})

    Args:
        datasets: Registered names, ``{"name": ..., **options}`` specs or loaded datasets.
        fs, leads, window, splits, names, crop: See :func:`combine_datasets`.
        progress: Passed to the loaders that take it (unless a spec sets it).
    """
    if isinstance(datasets, (str, Mapping)) or not datasets:
        raise InvalidValueError(
            "combined needs datasets=[spec, spec, ...], e.g. [{'name': 'npz', 'root': ...}, "
            "{'name': 'hce', 'root': ...}]"
        )
    loaded = []
    for spec in datasets:
        if isinstance(spec, ECGDataset):
            loaded.append(spec)
            continue
        name = (
            spec
            if isinstance(spec, str)
            else spec.get("name")
            if isinstance(spec, Mapping)
            else None
        )
        if not isinstance(name, str):
            raise InvalidValueError(
                f"each dataset must be a name or a {{'name': ...}} spec, got {spec!r}"
            )
        extra = {}
        if "progress" in inspect.signature(DATASETS.get(name)).parameters:
            extra["progress"] = progress
        loaded.append(DATASETS.build(spec, **extra))
    return combine_datasets(loaded, fs, leads, window, splits=splits, names=names, crop=crop)
