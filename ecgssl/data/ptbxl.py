"""PTB-XL (``ptbxl``): 21,799 ten-second 12-lead records of 18,869 patients (PhysioNet,
CC BY 4.0), with the six benchmark tasks of Strodthoff et al., "Deep Learning for ECG
Analysis: Benchmarks and Insights from PTB-XL", IEEE JBHI 25(5), 2021.

Labels are built as the benchmark builds them: every SCP statement of a record's
``scp_codes`` (whatever its likelihood) is kept when ``scp_statements.csv`` marks it
diagnostic / form / rhythm, diagnostic statements are aggregated to their
``diagnostic_subclass`` or ``diagnostic_class``, and records left without a label are dropped.
Folds: ``strat_fold`` 1–8 train, 9 validation, 10 test.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ecgssl.data.assemble import finish_dataset, multi_hot, require_root
from ecgssl.data.base import ECGDataset
from ecgssl.data.preprocess import PreprocessConfig
from ecgssl.data.records import parse_scp_codes, read_wfdb
from ecgssl.data.store import SourceRecord, load_signals
from ecgssl.errors import DataNotFoundError, InvalidValueError
from ecgssl.registry import DATASETS
from ecgssl.validation import STANDARD_LEADS

__all__ = ["PTBXL_TASKS", "PTBXL_URL", "fold_to_split", "load_ptbxl", "ptbxl_labels"]

PTBXL_URL = "https://physionet.org/content/ptb-xl/1.0.3/"
PTBXL_TASKS = ("all", "diagnostic", "subdiagnostic", "superdiagnostic", "form", "rhythm")


def fold_to_split(fold: int) -> str:
    """The benchmark split of a ``strat_fold``: 1–8 train, 9 val, 10 test."""
    if not 1 <= fold <= 10:
        raise InvalidValueError(f"strat_fold must be in 1..10, got {fold}")
    return "test" if fold == 10 else "val" if fold == 9 else "train"


def ptbxl_labels(
    scp_codes: Sequence[dict[str, float]], statements: dict[str, dict[str, str]], task: str
) -> list[list[str]]:
    """Each record's label names for ``task`` (see :data:`PTBXL_TASKS`).

    Args:
        scp_codes: Per record, the ``scp_codes`` dictionary of ``ptbxl_database.csv``.
        statements: ``scp_statements.csv`` rows keyed by statement code.
        task: One of :data:`PTBXL_TASKS`.
    """
    if task not in PTBXL_TASKS:
        raise InvalidValueError(f"task must be one of {PTBXL_TASKS}, got {task!r}")

    def flag(code: str, column: str) -> bool:
        return code in statements and statements[code].get(column, "").strip() in ("1", "1.0")

    out = []
    for codes in scp_codes:
        if task == "all":
            labels = set(codes)
        elif task in ("form", "rhythm", "diagnostic"):
            labels = {c for c in codes if flag(c, task)}
        else:
            column = "diagnostic_subclass" if task == "subdiagnostic" else "diagnostic_class"
            labels = {statements[c][column] for c in codes
                      if flag(c, "diagnostic") and statements[c].get(column, "").strip()}  # fmt: skip
        out.append(sorted(labels))
    return out


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@DATASETS.register("ptbxl", "ptb_xl")
def load_ptbxl(
    root: str | Path | None = None,
    task: str = "superdiagnostic",
    split: str | Sequence[str] | None = None,
    fs: float | None = 100.0,
    leads: Sequence[str] | None = STANDARD_LEADS,
    window: float | None = 10.0,
    *,
    resolution: str | None = None,
    crop: str = "start",
    bandpass: tuple[float | None, float | None] | None = None,
    standardize: str = "none",
    missing_leads: str = "raise",
    min_count: int = 0,
    cache: bool | str | Path = True,
    strict: bool = False,
    n_jobs: int | None = None,
    progress: bool = True,
) -> ECGDataset:
    """PTB-XL from its official layout: ``ptbxl_database.csv``, ``scp_statements.csv``,
    ``records100/`` and/or ``records500/``.

    Records listed in the database but absent on disk are skipped with one warning (or raise
    with ``strict=True``).

    Args:
        root: The folder holding the two CSV files and the record folders.
        task: ``"all"``, ``"diagnostic"``, ``"subdiagnostic"``, ``"superdiagnostic"``,
            ``"form"`` or ``"rhythm"`` (multi-label).
        split: Return only ``"train"`` (folds 1–8), ``"val"`` (9) or ``"test"`` (10).
        fs: Output rate in Hz; read from ``records100`` when ``fs <= 100``, else from
            ``records500`` (resampled if fs is neither).
        leads, window, crop, bandpass, standardize, missing_leads: Preprocessing; see
            :class:`ecgssl.data.PreprocessConfig`.
        resolution: Force ``"lr"`` (``records100``) or ``"hr"`` (``records500``).
        min_count: Drop classes held by this many records or fewer (the benchmark's
            ``min_samples``; 0 keeps every class that occurs).
        cache, strict, n_jobs, progress: See :func:`ecgssl.data.store.load_signals`.

    Returns:
        An :class:`ECGDataset` with multi-hot labels, ``patient_ids`` and the fold split;
        ``record_ids`` are the ``ecg_id`` values and ``record_info`` holds ``strat_fold``,
        ``age`` and ``sex``.
    """
    if task not in PTBXL_TASKS:
        raise InvalidValueError(f"task must be one of {PTBXL_TASKS}, got {task!r}")
    if resolution is None:
        resolution = "lr" if fs is not None and fs <= 100 else "hr"
    if resolution not in ("lr", "hr"):
        raise InvalidValueError(f"resolution must be 'lr', 'hr' or None, got {resolution!r}")
    path = require_root(root, "ptbxl", ("ptbxl_database.csv", "scp_statements.csv"), PTBXL_URL)
    config = PreprocessConfig(fs=fs, leads=None if leads is None else tuple(leads), window=window,
                              crop=crop, bandpass=bandpass, standardize=standardize,
                              missing_leads=missing_leads)  # fmt: skip
    rows = {str(int(float(r["ecg_id"]))): r for r in _read_csv(path / "ptbxl_database.csv")}
    statements = {r[""]: r for r in _read_csv(path / "scp_statements.csv")}
    column = f"filename_{resolution}"
    sources = []
    for rid, r in rows.items():
        rec = str(path / r[column])
        sources.append(SourceRecord(rid, rec, (rec + ".hea", rec + ".dat")))
    try:
        stored = load_signals(f"ptbxl-{resolution}", sources, read_wfdb, config, cache=cache,
                              strict=strict, n_jobs=n_jobs, progress=progress)  # fmt: skip
    except FileNotFoundError as e:
        raise DataNotFoundError(
            f"{e}. ptbxl_database.csv lists {len(rows)} records but none of their "
            f"records{'100' if resolution == 'lr' else '500'}/ files is under {path}; "
            f"download the records from {PTBXL_URL}"
        ) from None
    kept = [rows[r] for r in stored.record_ids]
    codes = [parse_scp_codes(r["scp_codes"], f"ecg_id {r.get('ecg_id', '?')}") for r in kept]
    labels, classes = multi_hot(ptbxl_labels(codes, statements, task), min_count=min_count)
    folds = np.array([int(r["strat_fold"]) for r in kept])
    return finish_dataset(
        stored, config, name="ptbxl", keep=labels.sum(axis=1) > 0, labels=labels,
        classes=classes, split=np.array([fold_to_split(f) for f in folds]),
        patient_ids=np.array([str(int(float(r["patient_id"]))) for r in kept]), subset=split,
        record_info={"strat_fold": folds, "age": np.array([r["age"] for r in kept]),
                     "sex": np.array([r["sex"] for r in kept])},
        info={"task": task, "resolution": resolution, "root": str(path), "url": PTBXL_URL,
              "n_listed": len(rows)},
    )  # fmt: skip
