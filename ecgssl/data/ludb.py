"""The Lobachevsky University Electrocardiography Database (``ludb``).

200 ten-second 12-lead records at 500 Hz, one per subject (PhysioNet, ODC-By 1.0), with
rhythm and diagnosis labels in ``ludb.csv``. Kalyakulina et al., "LUDB: A New Open-Access
Validation Tool for Electrocardiogram Delineation Algorithms", IEEE Access 8, 2020.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ecgssl.data.assemble import finish_dataset, make_split, multi_hot, require_root
from ecgssl.data.base import ECGDataset
from ecgssl.data.preprocess import PreprocessConfig
from ecgssl.data.records import read_wfdb
from ecgssl.data.store import SourceRecord, load_signals
from ecgssl.errors import InvalidValueError
from ecgssl.registry import DATASETS
from ecgssl.validation import STANDARD_LEADS

__all__ = ["LUDB_TASKS", "LUDB_URL", "load_ludb"]

LUDB_URL = "https://physionet.org/content/ludb/1.0.1/"
#: ``rhythm``: the ``Rhythms`` column; ``diagnosis``: every other diagnosis column.
LUDB_TASKS = ("rhythm", "diagnosis")
_DIAGNOSIS_COLUMNS = (
    "Electric axis of the heart", "Conduction abnormalities", "Extrasystolies",
    "Hypertrophies", "Cardiac pacing", "Ischemia",
    "Non-specific repolarization abnormalities", "Other states",
)  # fmt: skip


def _lines(cell: str) -> list[str]:
    return [s.strip().rstrip(".").strip() for s in cell.splitlines() if s.strip()]


@DATASETS.register("ludb", "lobachevsky")
def load_ludb(
    root: str | Path | None = None,
    task: str = "rhythm",
    split: str | Sequence[str] | None = None,
    fs: float | None = 500.0,
    leads: Sequence[str] | None = STANDARD_LEADS,
    window: float | None = 10.0,
    *,
    crop: str = "start",
    bandpass: tuple[float | None, float | None] | None = None,
    standardize: str = "none",
    missing_leads: str = "raise",
    min_count: int = 0,
    split_method: str = "stratified",
    cache: bool | str | Path = True,
    strict: bool = False,
    n_jobs: int | None = None,
    progress: bool = True,
) -> ECGDataset:
    """LUDB from its PhysioNet layout (``ludb.csv`` and ``data/1`` … ``data/200``).

    Labels are multi-label: each line of the ``Rhythms`` cell (task ``"rhythm"``: e.g.
    ``"Sinus rhythm"``, ``"Atrial fibrillation"``, ``"Wandering atrial pacemaker"``) or of the
    other diagnosis columns (task ``"diagnosis"``), as classes. LUDB has no official split:
    train/val/test (70/15/15 %) are drawn by iterative stratification of the labels with a
    fixed seed, so that rare rhythms reach every split (``split_method="hash"``: a hash of
    the record id instead). One record per subject, so the split is also patient-wise; the
    patient id is the record id.

    Args:
        root: The folder holding ``ludb.csv`` and ``data/``.
        task: ``"rhythm"`` or ``"diagnosis"``.
        split: Return only ``"train"``, ``"val"`` or ``"test"`` (``None``: all records).
        fs, leads, window, crop, bandpass, standardize, missing_leads: Preprocessing; see
            :class:`ecgssl.data.PreprocessConfig`.
        min_count: Drop classes held by this many records or fewer.
        split_method: ``"stratified"`` or ``"hash"``; see
            :func:`ecgssl.data.assemble.make_split`.
        cache, strict, n_jobs, progress: See :func:`ecgssl.data.store.load_signals`.
    """
    if task not in LUDB_TASKS:
        raise InvalidValueError(f"task must be one of {LUDB_TASKS}, got {task!r}")
    path = require_root(root, "ludb", ("ludb.csv", "data"), LUDB_URL)
    config = PreprocessConfig(fs=fs, leads=None if leads is None else tuple(leads), window=window,
                              crop=crop, bandpass=bandpass, standardize=standardize,
                              missing_leads=missing_leads)  # fmt: skip
    with open(path / "ludb.csv", newline="", encoding="utf-8") as f:
        rows = {r["ID"].strip(): r for r in csv.DictReader(f)}
    sources = [
        SourceRecord(rid, str(path / "data" / rid), (str(path / "data" / f"{rid}.hea"),
                                                     str(path / "data" / f"{rid}.dat")))
        for rid in sorted(rows, key=int)
    ]  # fmt: skip
    stored = load_signals("ludb", sources, read_wfdb, config, cache=cache, strict=strict,
                          n_jobs=n_jobs, progress=progress, url=LUDB_URL)  # fmt: skip
    kept = [rows[r] for r in stored.record_ids]
    if task == "rhythm":
        sets = [_lines(r["Rhythms"]) for r in kept]
    else:
        sets = [[s for c in _DIAGNOSIS_COLUMNS for s in _lines(r.get(c, ""))] for r in kept]
    labels, classes = multi_hot(sets, min_count=min_count)
    ids = np.asarray(stored.record_ids)
    return finish_dataset(
        stored, config, name="ludb", labels=labels, classes=classes, split=make_split(ids, labels, split_method),
        patient_ids=ids.copy(), subset=split, info={"task": task, "root": str(path), "url": LUDB_URL},
        record_info={"age": np.array([r["Age"].strip() for r in kept]),
                     "sex": np.array([r["Sex"].strip() for r in kept])},
    )  # fmt: skip
