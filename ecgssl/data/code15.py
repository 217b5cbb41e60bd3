"""CODE-15 % (``code15``): 345,779 12-lead ECG exams of 233,770 Brazilian patients (Telehealth
Network of Minas Gerais, 2010–2016; Zenodo, CC BY 4.0) with six rhythm/conduction labels.

Ribeiro et al., "Automatic diagnosis of the 12-lead ECG using a deep neural network",
Nat. Commun. 11, 1760 (2020); data: "CODE-15 %: a large scale annotated dataset of 12-lead
ECGs", Zenodo, doi:10.5281/zenodo.4916206. Layout: ``exams.csv`` plus HDF5 parts
``exams_part0.hdf5`` ... ``exams_part17.hdf5``, each with datasets ``tracings``
(N, 4096, 12) float at 400 Hz (10-s or 7-s recordings, zero-padded at both ends to 4096
samples) and ``exam_id`` (N,); columns in the order DI, DII, DIII, AVR, AVL, AVF, V1–V6.
Reading needs h5py (``pip install 'ecgssl[code15]'``).
"""

from __future__ import annotations

import csv
import functools
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ecgssl.data.assemble import finish_dataset, make_split, require_root
from ecgssl.data.base import ECGDataset
from ecgssl.data.preprocess import PreprocessConfig
from ecgssl.data.quality import check_signal, flat_lead_filter
from ecgssl.data.records import Record
from ecgssl.data.store import SourceRecord, _warn, load_signals
from ecgssl.errors import DataNotFoundError, InvalidValueError, MissingDependencyError
from ecgssl.registry import DATASETS
from ecgssl.validation import STANDARD_LEADS

__all__ = ["CODE15_CLASSES", "CODE15_FS", "CODE15_LEADS", "CODE15_URL", "load_code15", "read_code15"]  # fmt: skip

CODE15_URL = "https://zenodo.org/records/4916206"
#: The columns of ``tracings`` as CODE-15 % names them (mapped to I, II, III, aVR, aVL, aVF,
#: V1–V6 on reading).
CODE15_LEADS = ("DI", "DII", "DIII", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")
#: Label columns of ``exams.csv``, in label order.
CODE15_CLASSES = ("1dAVb", "RBBB", "LBBB", "SB", "ST", "AF")
CODE15_FS = 400.0
_PART = re.compile(r"^exams_part(\d+)\.hdf5$")
_SEP = "::"


def _h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise MissingDependencyError(
            "the code15 loader reads the CODE-15 % HDF5 parts with h5py, which is not "
            "installed: pip install 'ecgssl[code15]' (or pip install h5py)"
        ) from None
    return h5py


@functools.lru_cache(maxsize=4)
def _open(path: str, mtime_ns: int, size: int) -> Any:
    """An open part (kept open per worker process; a changed file is a new key)."""
    return _h5py().File(path, "r")


def read_code15(path: str) -> Record:
    """One exam: ``path`` is ``"<part file>::<row>"``. The zero padding at both ends is
    stripped (a 10-s exam keeps 4000 samples, a 7-s one 2800), the values are taken as mV,
    and the record is checked by :func:`ecgssl.data.quality.check_signal`."""
    part, row = path.rsplit(_SEP, 1)
    st = os.stat(part)
    x = np.asarray(_open(part, st.st_mtime_ns, st.st_size)["tracings"][int(row)], dtype=np.float64).T  # fmt: skip
    nonzero = np.flatnonzero(np.any(x != 0, axis=0))
    if nonzero.size == 0:
        raise InvalidValueError("no signal: the tracing is all zeros")
    x = x[:, nonzero[0] : nonzero[-1] + 1]
    return check_signal(Record(x, CODE15_FS, STANDARD_LEADS))


def _id(text: str) -> str:
    """``"12345.0"`` -> ``"12345"``; other text stripped."""
    t = (text or "").strip()
    try:
        return str(int(float(t)))
    except ValueError:
        return t


def _flag(text: str) -> float:
    return 1.0 if (text or "").strip().lower() in ("true", "1", "1.0") else 0.0


def _parts(path: Path, wanted: Sequence[int] | None) -> list[Path]:
    found = {int(m.group(1)): path / m.string for m in map(_PART.match, os.listdir(path)) if m}
    if wanted is not None:
        absent = sorted(set(wanted) - set(found))
        if absent:
            raise DataNotFoundError(
                f"code15: parts {absent} not found under {path} (present: {sorted(found)}); "
                f"download exams_part<k>.hdf5 from {CODE15_URL}"
            )
        found = {k: v for k, v in found.items() if k in set(wanted)}
    if not found:
        raise DataNotFoundError(
            f"code15: no exams_part<k>.hdf5 under {path}; download the parts (and exams.csv) "
            f"from {CODE15_URL} and unzip them there"
        )
    return [found[k] for k in sorted(found)]


def _exam_ids(part: Path) -> np.ndarray:
    """The part's ``exam_id`` array, checked against its ``tracings``."""
    with _h5py().File(part, "r") as f:
        if "tracings" not in f or "exam_id" not in f:
            raise InvalidValueError(f"has datasets {sorted(f)}, expected 'tracings' and 'exam_id'")
        shape, ids = f["tracings"].shape, np.asarray(f["exam_id"][:])
    if len(shape) != 3 or shape[2] != len(CODE15_LEADS) or shape[0] != len(ids):
        raise InvalidValueError(f"tracings {shape} do not match (N={len(ids)}, samples, 12)")
    return ids


@DATASETS.register("code15", "code_15")
def load_code15(
    root: str | Path | None = None,
    split: str | Sequence[str] | None = None,
    fs: float | None = CODE15_FS,
    leads: Sequence[str] | None = STANDARD_LEADS,
    window: float | None = 10.0,
    *,
    parts: Sequence[int] | None = None,
    max_records: int | None = None,
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
    """CODE-15 % from its official layout: ``exams.csv`` and the ``exams_part<k>.hdf5`` parts
    present under ``root`` (the parts are large: any subset may be downloaded).

    The parts are read lazily with h5py, one exam row at a time. Each exam's zero padding is
    stripped; with ``window=10`` (default) a 7-s exam is zero-padded at the end. Labels are
    the six multi-hot columns :data:`CODE15_CLASSES`; ``patient_id`` is the patient id; the
    split (70/15/15 %) is a hash of it (``split_method="stratified"``: patient-wise iterative
    stratification of the labels). Exams whose tracing is all zeros, holds NaN or has an
    implausible amplitude are skipped with one warning (reasons in ``info["skipped"]``).

    Args:
        root: The folder holding ``exams.csv`` and the parts.
        split: Return only ``"train"``, ``"val"`` or ``"test"``.
        fs, leads, window, crop, bandpass, standardize, missing_leads: Preprocessing; see
            :class:`ecgssl.data.PreprocessConfig` (default: the native 400 Hz).
        parts: Read only these part numbers (default: every part present).
        max_records: Read only the first this many exams (in part and row order).
        flat_leads: ``"skip"`` (default) or ``"keep"`` records with a flat lead; see
            :func:`ecgssl.data.mimic_iv_ecg.load_mimic_iv_ecg`.
        split_method: ``"hash"`` or ``"stratified"``.
        cache, strict, n_jobs, progress: See :func:`ecgssl.data.store.load_signals`.

    Returns:
        An :class:`ECGDataset`; ``record_ids`` are the ``exam_id`` values and ``record_info``
        holds ``age``, ``sex`` (``"M"``/``"F"``), ``normal_ecg``, ``death``, ``timey``,
        ``nn_predicted_age``, ``part`` and ``flat_leads``. ``info["parts"]`` lists the parts
        read, ``info["parts_absent"]`` the parts ``exams.csv`` names that are not on disk
        (with their exam counts) and ``info["skipped_parts"]`` unreadable parts.

    Raises:
        ImportError: h5py is not installed (``pip install 'ecgssl[code15]'``).
    """
    _h5py()
    if max_records is not None and (isinstance(max_records, bool) or max_records < 1):
        raise InvalidValueError(f"max_records must be a positive number of records, got {max_records!r}")  # fmt: skip
    path = require_root(root, "code15", ("exams.csv",), CODE15_URL)
    config = PreprocessConfig(fs=fs, leads=None if leads is None else tuple(leads), window=window,
                              crop=crop, bandpass=bandpass, standardize=standardize,
                              missing_leads=missing_leads)  # fmt: skip
    with open(path / "exams.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        need = ["exam_id", "patient_id", *CODE15_CLASSES]
        absent = [c for c in need if c not in (reader.fieldnames or [])]
        if absent:
            raise InvalidValueError(f"{path / 'exams.csv'} lacks column(s) {absent}; expected the official exams.csv from {CODE15_URL}")  # fmt: skip
        exams = {_id(r["exam_id"]): r for r in reader}
    files = _parts(path, parts)
    sources: list[SourceRecord] = []
    skipped_parts: dict[str, str] = {}
    seen: set[str] = set()
    for part in files:
        try:
            part_ids = _exam_ids(part)
        except Exception as e:
            skipped_parts[part.name] = f"unreadable ({type(e).__name__}: {e})"
            continue
        for row, eid in enumerate(part_ids.tolist()):
            key = str(int(eid))
            if key in exams and key not in seen:
                seen.add(key)
                sources.append(SourceRecord(key, f"{part}{_SEP}{row}", (str(part),)))
    if skipped_parts:
        _warn(f"code15: unreadable part(s) skipped: {skipped_parts}", UserWarning)
    if not sources:
        raise DataNotFoundError(
            f"code15: none of the exams of exams.csv is in the parts read ({[p.name for p in files]}"
            f", unreadable: {sorted(skipped_parts)}) under {path}; download them from {CODE15_URL}"
        )
    read_names = {p.name for p in files} - set(skipped_parts)
    not_found = {e: f"not in {r['trace_file']}" for e, r in exams.items()
                 if e not in seen and (r.get("trace_file") or "").strip() in read_names}  # fmt: skip
    parts_absent: dict[str, int] = {}
    for exam, r in exams.items():
        name = (r.get("trace_file") or "").strip()
        if exam not in seen and name and not (path / name).exists():
            parts_absent[name] = parts_absent.get(name, 0) + 1
    if not_found:
        _warn(f"code15: {len(not_found)} exam(s) of exams.csv are not in the part their "
              f"trace_file names (e.g. {next(iter(not_found))}); see dataset.info['skipped']",
              UserWarning)  # fmt: skip
    sources = sources[:max_records] if max_records is not None else sources
    stored = load_signals("code15", sources, read_code15, config, cache=cache, strict=strict,
                          n_jobs=n_jobs, progress=progress, url=CODE15_URL)  # fmt: skip
    ids = list(stored.record_ids)
    flat, keep, dropped = flat_lead_filter(ids, stored.comments, flat_leads)
    if dropped:
        _warn(f"code15: {len(dropped)} of {len(ids)} exams dropped for flat leads; "
              "flat_leads='keep' keeps them. Their ids are in dataset.info['skipped'].",
              UserWarning)  # fmt: skip
    rows = [exams[e] for e in ids]
    labels = np.array([[_flag(r[c]) for c in CODE15_CLASSES] for r in rows], dtype=np.float32)
    patients = np.array([_id(r["patient_id"]) for r in rows])
    part_of = {s.record_id: Path(s.files[0]).name for s in sources}

    def column(name: str) -> np.ndarray:
        return np.array([(r.get(name) or "").strip() for r in rows])

    return finish_dataset(
        stored, config, name="code15", keep=keep, labels=labels, classes=CODE15_CLASSES,
        split=make_split(np.asarray(ids), labels, split_method, patients),
        patient_ids=patients, subset=split,
        record_info={"age": column("age"), "normal_ecg": column("normal_ecg"),
                     "sex": np.array(["M" if _flag(r.get("is_male", "")) else "F" for r in rows]),
                     "death": column("death"), "timey": column("timey"),
                     "nn_predicted_age": column("nn_predicted_age"),
                     "part": np.array([part_of[e] for e in ids]), "flat_leads": flat},
        info={"root": str(path), "url": CODE15_URL, "parts": sorted(read_names),
              "parts_absent": parts_absent, "skipped_parts": skipped_parts,
              "skipped": {**not_found, **stored.skipped, **dropped}, "n_listed": len(exams),
              "lead_names": dict(zip(CODE15_LEADS, STANDARD_LEADS))},
    )  # fmt: skip
