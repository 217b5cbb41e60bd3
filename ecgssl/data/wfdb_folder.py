"""Any folder of WFDB records as an unlabeled dataset (``wfdb_folder``), e.g. one's own
recordings for pretraining, or PhysioNet databases without a dedicated loader (PTB-DB...)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ecgssl.data.arrays import hash_split
from ecgssl.data.assemble import finish_dataset, require_root
from ecgssl.data.base import ECGDataset
from ecgssl.data.preprocess import PreprocessConfig
from ecgssl.data.records import header_fields, read_wfdb
from ecgssl.data.store import SourceRecord, load_signals
from ecgssl.errors import DataNotFoundError
from ecgssl.registry import DATASETS

__all__ = ["load_wfdb_folder"]

_URL = "https://physionet.org/about/database/ (any WFDB-format database)"


def _sources(path: Path) -> list[SourceRecord]:
    """Every ``*.hea`` under ``path`` with the files of the same stem (its signal files)."""
    out = []
    for folder, _, names in sorted(os.walk(path)):
        by_stem: dict[str, list[str]] = {}
        for n in names:
            by_stem.setdefault(n.split(".")[0], []).append(os.path.join(folder, n))
        for n in sorted(names):
            if n.endswith(".hea"):
                stem = Path(folder) / n[: -len(".hea")]
                files = tuple(sorted(by_stem.get(n.split(".")[0], [str(stem) + ".hea"])))
                out.append(SourceRecord(str(stem.relative_to(path)), str(stem), files))
    return out


@DATASETS.register("wfdb_folder", "wfdb")
def load_wfdb_folder(
    root: str | Path | None = None,
    split: str | Sequence[str] | None = None,
    fs: float | None = None,
    leads: Sequence[str] | None = None,
    window: float | None = None,
    *,
    patient_from_folder: bool = False,
    crop: str = "start",
    bandpass: tuple[float | None, float | None] | None = None,
    standardize: str = "none",
    missing_leads: str = "raise",
    cache: bool | str | Path = True,
    strict: bool = False,
    n_jobs: int | None = None,
    progress: bool = True,
) -> ECGDataset:
    """Every WFDB record (``*.hea``) under ``root``, searched recursively; no labels.

    By default records keep their native rate, leads and length, which must then agree
    (else pass ``fs``, ``leads`` or ``window``). The record id is the path relative to
    ``root``; train/val/test come from its hash (or the patient's, see below).

    Args:
        root: The folder to search.
        split: Return only ``"train"``, ``"val"`` or ``"test"``.
        fs, leads, window, crop, bandpass, standardize, missing_leads: Preprocessing; see
            :class:`ecgssl.data.PreprocessConfig`.
        patient_from_folder: Use each record's parent folder as its patient id (PhysioNet
            layouts like PTB-DB's ``patient001/s0010_re``), keeping a patient in one split.
        cache, strict, n_jobs, progress: See :func:`ecgssl.data.store.load_signals`.
    """
    path = require_root(root, "wfdb_folder", (), _URL)
    config = PreprocessConfig(fs=fs, leads=None if leads is None else tuple(leads), window=window,
                              crop=crop, bandpass=bandpass, standardize=standardize,
                              missing_leads=missing_leads)  # fmt: skip
    sources = _sources(path)
    if not sources:
        raise DataNotFoundError(f"no WFDB records (*.hea) under {path}")
    stored = load_signals("wfdb_folder", sources, read_wfdb, config, cache=cache,
                          strict=strict, n_jobs=n_jobs, progress=progress)  # fmt: skip
    ids = np.asarray(stored.record_ids)
    patients = np.array([str(Path(r).parent) for r in ids]) if patient_from_folder else None
    fields = [header_fields(c) for c in stored.comments]
    return finish_dataset(
        stored, config, name="wfdb_folder", split=hash_split(patients if patients is not None else ids),
        patient_ids=patients, subset=split, info={"root": str(path)},
        record_info={"age": np.array([f.get("age", "") for f in fields]),
                     "sex": np.array([f.get("sex", "") for f in fields]),
                     "comments": np.array(["\n".join(c) for c in stored.comments])},
    )  # fmt: skip
