"""MIMIC-IV-ECG (``mimic_iv_ecg``): about 800,000 ten-second 12-lead diagnostic ECGs of
about 160,000 patients of the Beth Israel Deaconess Medical Center (PhysioNet, open access,
ODbL 1.0), unlabeled here: a pretraining corpus.

Gow et al., "MIMIC-IV-ECG: Diagnostic Electrocardiogram Matched Subset" (version 1.0),
PhysioNet, 2023. Layout: ``record_list.csv`` (``subject_id``, ``study_id``, ``file_name``,
``ecg_time``, ``path``) and ``files/p1000/p10000032/s40689238/40689238.{hea,dat}`` (WFDB,
500 Hz, 12 leads, 5000 samples); optionally ``machine_measurements.csv`` with the machine's
report lines ``report_0`` ... ``report_17`` per study.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ecgssl.data.arrays import hash_split
from ecgssl.data.assemble import finish_dataset, require_root
from ecgssl.data.base import ECGDataset
from ecgssl.data.preprocess import PreprocessConfig
from ecgssl.data.quality import check_signal, flat_lead_filter
from ecgssl.data.records import Record, read_wfdb
from ecgssl.data.store import SourceRecord, _warn, load_signals
from ecgssl.errors import InvalidValueError
from ecgssl.registry import DATASETS
from ecgssl.validation import STANDARD_LEADS

__all__ = ["MIMIC_IV_ECG_URL", "load_mimic_iv_ecg", "mimic_iv_ecg_records", "read_mimic_ecg",
           "read_reports"]  # fmt: skip

MIMIC_IV_ECG_URL = "https://physionet.org/content/mimic-iv-ecg/1.0/"
_COLUMNS = ("subject_id", "study_id", "path")
_SPLITS = ("hash", "all_train")
_N_REPORTS = 18


def read_mimic_ecg(path: str) -> Record:
    """One MIMIC-IV-ECG record (``path`` without extension) in mV, checked by
    :func:`ecgssl.data.quality.check_signal` (NaN samples, no signal or an implausible
    amplitude raise ``ValueError``; flat leads are noted)."""
    return check_signal(read_wfdb(path))


def read_reports(path: str | Path, studies: Iterable[str] | None = None) -> dict[str, str]:
    """``machine_measurements.csv``: study id -> its non-empty ``report_*`` lines joined by
    ``"; "`` (only for ``studies`` when given)."""
    wanted = None if studies is None else set(studies)
    out: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if "study_id" not in (reader.fieldnames or []):
            raise InvalidValueError(f"{path} has no study_id column (columns: {reader.fieldnames})")
        for row in reader:
            sid = row["study_id"].strip()
            if wanted is None or sid in wanted:
                lines = (str(row.get(f"report_{k}") or "").strip() for k in range(_N_REPORTS))
                out[sid] = "; ".join(t for t in lines if t)
    return out


def _record_list(path: Path, max_records: int | None, subjects: set[str] | None) -> list[dict[str, str]]:  # fmt: skip
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        absent = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
        if absent:
            raise InvalidValueError(
                f"{path} lacks column(s) {absent}; expected the official record_list.csv "
                f"(subject_id, study_id, file_name, ecg_time, path) from {MIMIC_IV_ECG_URL}"
            )
        rows = []
        for row in reader:
            if subjects is not None and row["subject_id"].strip() not in subjects:
                continue
            rows.append({k: (v or "").strip() for k, v in row.items() if k is not None})
            if max_records is not None and len(rows) >= max_records:
                break
    return rows


def mimic_iv_ecg_records(
    root: str | Path | None = None,
    *,
    max_records: int | None = None,
    subject_ids: Sequence[str | int] | None = None,
) -> list[SourceRecord]:
    """The records ``record_list.csv`` lists (one per study, id = study id), for
    :func:`ecgssl.data.cache_records` with :func:`read_mimic_ecg`: a streamed pretraining
    cache of the whole corpus built chunk by chunk (see ``docs/large-corpora.md``)."""
    path = require_root(root, "mimic_iv_ecg", ("record_list.csv",), MIMIC_IV_ECG_URL)
    subjects = None if subject_ids is None else {str(s).strip() for s in subject_ids}
    rows = _record_list(path / "record_list.csv", max_records, subjects)
    out = []
    for sid, r in {r["study_id"]: r for r in rows}.items():
        rec = str(path / r["path"])
        out.append(SourceRecord(sid, rec, (rec + ".hea", rec + ".dat")))
    return out


@DATASETS.register("mimic_iv_ecg", "mimic_ecg", "mimiciv_ecg")
def load_mimic_iv_ecg(
    root: str | Path | None = None,
    split: str | Sequence[str] | None = None,
    fs: float | None = 500.0,
    leads: Sequence[str] | None = STANDARD_LEADS,
    window: float | None = 10.0,
    *,
    max_records: int | None = None,
    subject_ids: Sequence[str | int] | None = None,
    reports: bool = True,
    flat_leads: str = "skip",
    split_method: str = "hash",
    crop: str = "start",
    bandpass: tuple[float | None, float | None] | None = None,
    standardize: str = "none",
    missing_leads: str = "raise",
    cache: bool | str | Path = True,
    strict: bool = False,
    n_jobs: int | None = None,
    progress: bool = True,
) -> ECGDataset:
    """MIMIC-IV-ECG from its official layout, unlabeled (a pretraining corpus).

    Records are listed by ``record_list.csv`` (in its order); those whose files are absent,
    or that hold NaN samples, no signal or an implausible amplitude, are skipped with one
    warning and their reasons in ``info["skipped"]`` (``strict=True`` raises). The subject
    is the patient id; the split is a hash of it (70/15/15 %), so a patient's ECGs share a
    split.

    Args:
        root: The folder holding ``record_list.csv`` and ``files/``.
        split: Return only ``"train"``, ``"val"`` or ``"test"``.
        fs, leads, window, crop, bandpass, standardize, missing_leads: Preprocessing; see
            :class:`ecgssl.data.PreprocessConfig`.
        max_records: Read only the first this many listed records (after ``subject_ids``):
            a slice to try things on (it gets its own cache).
        subject_ids: Read only these subjects' records.
        reports: Put the machine report of ``machine_measurements.csv`` (when present) in
            ``record_info["report"]``.
        flat_leads: ``"skip"`` (default) drops records with a flat lead (range below 1 µV)
            and reports them; ``"keep"`` keeps them, named in ``record_info["flat_leads"]``.
        split_method: ``"hash"`` (by subject) or ``"all_train"`` (every record in train).
        cache, strict, n_jobs, progress: See :func:`ecgssl.data.store.load_signals`.

    Returns:
        An :class:`ECGDataset` without labels; ``record_ids`` are the ``study_id`` values,
        ``patient_ids`` the ``subject_id`` values, and ``record_info`` holds ``ecg_time``,
        ``report`` and ``flat_leads``.
    """
    if split_method not in _SPLITS:
        raise InvalidValueError(f"split_method must be one of {_SPLITS}, got {split_method!r}")
    if max_records is not None and (isinstance(max_records, bool) or max_records < 1):
        raise InvalidValueError(f"max_records must be a positive number of records, got {max_records!r}")  # fmt: skip
    path = require_root(root, "mimic_iv_ecg", ("record_list.csv",), MIMIC_IV_ECG_URL)
    config = PreprocessConfig(fs=fs, leads=None if leads is None else tuple(leads), window=window,
                              crop=crop, bandpass=bandpass, standardize=standardize,
                              missing_leads=missing_leads)  # fmt: skip
    subjects = None if subject_ids is None else {str(s).strip() for s in subject_ids}
    rows = _record_list(path / "record_list.csv", max_records, subjects)
    if not rows:
        raise InvalidValueError(f"record_list.csv under {path} lists no record of subjects {sorted(subjects or [])[:10]}")  # fmt: skip
    by_study = {r["study_id"]: r for r in rows}
    sources = []
    for sid, r in by_study.items():
        rec = str(path / r["path"])
        sources.append(SourceRecord(sid, rec, (rec + ".hea", rec + ".dat")))
    stored = load_signals("mimic_iv_ecg", sources, read_mimic_ecg, config, cache=cache,
                          strict=strict, n_jobs=n_jobs, progress=progress,
                          url=MIMIC_IV_ECG_URL)  # fmt: skip
    ids = list(stored.record_ids)
    flat, keep, dropped = flat_lead_filter(ids, stored.comments, flat_leads)
    if dropped:
        _warn(
            f"mimic_iv_ecg: {len(dropped)} of {len(ids)} records dropped for flat leads "
            f"(e.g. {next(iter(dropped))}: {next(iter(dropped.values()))}); flat_leads='keep' "
            "keeps them. Their ids are in dataset.info['skipped'].",
            UserWarning,
        )
    measurements = path / "machine_measurements.csv"
    text = read_reports(measurements, ids) if reports and measurements.exists() else {}
    subjects_arr = np.array([by_study[s]["subject_id"] for s in ids])
    split_arr = hash_split(subjects_arr) if split_method == "hash" else np.full(len(ids), "train")
    return finish_dataset(
        stored, config, name="mimic_iv_ecg", keep=keep, split=split_arr,
        patient_ids=subjects_arr, subset=split,
        record_info={"ecg_time": np.array([by_study[s].get("ecg_time", "") for s in ids]),
                     "report": np.array([text.get(s, "") for s in ids]),
                     "flat_leads": flat},
        info={"root": str(path), "url": MIMIC_IV_ECG_URL, "n_listed": len(rows),
              "skipped": {**stored.skipped, **dropped}, "reports": bool(text),
              "split_method": split_method},
    )  # fmt: skip
