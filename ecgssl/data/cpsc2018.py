"""The China Physiological Signal Challenge 2018 (``cpsc2018``), in either layout.

- The ORIGINAL challenge layout: ``A0001.mat`` …, in ``root`` or its sub-folders such as
  ``TrainingSet1/`` (a struct ``ECG`` with ``sex``, ``age`` and
  ``data`` (12, N) in mV at 500 Hz, 6–60 s) plus ``REFERENCE.csv`` (``Recording``,
  ``First_label``, ``Second_label``, ``Third_label``; classes 1–9 below).
- The PhysioNet/CinC 2021 re-distribution (WFDB ``.hea`` + ``.mat``, SNOMED CT ``# Dx:``),
  read by :func:`ecgssl.data.physionet.load_physionet2021` with ``source="cpsc2018"``.

Liu et al., "An Open Access Database for Evaluating the Algorithms of Electrocardiogram
Rhythm and Morphology Abnormality Detection", J. Med. Imaging Health Inform. 8(7), 2018.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ecgssl.data.assemble import finish_dataset, make_split, require_root
from ecgssl.data.base import ECGDataset
from ecgssl.data.physionet import load_physionet2021
from ecgssl.data.preprocess import PreprocessConfig
from ecgssl.data.records import header_fields, read_cpsc2018_mat
from ecgssl.data.store import SourceRecord, load_signals
from ecgssl.errors import InvalidTypeError
from ecgssl.registry import DATASETS
from ecgssl.validation import STANDARD_LEADS

__all__ = ["CPSC2018_CLASSES", "CPSC2018_URL", "load_cpsc2018", "read_reference"]

CPSC2018_URL = "http://2018.icbeb.org/Challenge.html"
#: Class names of the challenge's label numbers 1–9 (in that order).
CPSC2018_CLASSES = ("Normal", "AF", "I-AVB", "LBBB", "RBBB", "PAC", "PVC", "STD", "STE")


def read_reference(path: str | Path) -> dict[str, list[int]]:
    """``REFERENCE.csv``: recording name -> its label numbers (1–9), first label first."""
    out: dict[str, list[int]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            labels = [int(row[k]) for k in ("First_label", "Second_label", "Third_label")
                      if (row.get(k) or "").strip()]  # fmt: skip
            out[row["Recording"].strip()] = labels
    return out


def _mat_files(path: Path) -> dict[str, Path]:
    """``A*.mat`` files under ``path`` (any depth, e.g. ``TrainingSet1/``) without a WFDB
    header, by record name."""
    return {m.stem: m for m in sorted(path.rglob("A*.mat")) if not m.with_suffix(".hea").exists()}


def _is_original(path: Path) -> bool:
    return (path / "REFERENCE.csv").exists() and bool(_mat_files(path))


@DATASETS.register("cpsc2018", "icbeb2018")
def load_cpsc2018(
    root: str | Path | None = None,
    split: str | Sequence[str] | None = None,
    fs: float | None = 500.0,
    leads: Sequence[str] | None = STANDARD_LEADS,
    window: float | None = 10.0,
    **kwargs: Any,
) -> ECGDataset:
    """CPSC 2018 from ``root``: the original layout when ``root`` holds ``REFERENCE.csv`` and
    ``A*.mat`` structs, else the challenge-2021 WFDB records of source ``cpsc2018``.

    In the original layout the labels are the nine challenge classes
    (:data:`CPSC2018_CLASSES`, multi-label: up to three per record). Records (6–60 s) are cut
    to ``window`` seconds from the start (``crop="center"``: the middle); shorter ones are
    zero-padded at the end. Train/val/test come from a hash of the record name
    (``split_method="stratified"``: iterative stratification of the labels).

    Args:
        root: The data folder.
        split, fs, leads, window: As for :func:`ecgssl.data.physionet.load_physionet2021`.
        **kwargs: ``crop``, ``bandpass``, ``standardize``, ``missing_leads``, ``cache``,
            ``strict``, ``n_jobs``, ``progress``, ``split_method`` (both layouts), and ``classes``,
            ``drop_unlabeled`` (WFDB layout only).
    """
    path = require_root(root, "cpsc2018", (), CPSC2018_URL)
    if not _is_original(path):
        return load_physionet2021(path, source="cpsc2018", split=split, fs=fs, leads=leads,
                                  window=window, name="cpsc2018", **kwargs)  # fmt: skip
    store_keys = ("cache", "strict", "n_jobs", "progress")
    split_method = kwargs.pop("split_method", "hash")
    unknown = set(kwargs) - {"crop", "bandpass", "standardize", "missing_leads", *store_keys}
    if unknown:
        raise InvalidTypeError(f"unexpected argument(s) {sorted(unknown)} for the original CPSC 2018 layout")  # fmt: skip
    config = PreprocessConfig(
        fs=fs, leads=None if leads is None else tuple(leads), window=window,
        **{k: v for k, v in kwargs.items() if k not in store_keys},
    )  # fmt: skip
    reference = read_reference(path / "REFERENCE.csv")
    mats = _mat_files(path)
    files = {rid: str(mats.get(rid, path / f"{rid}.mat")) for rid in reference}
    sources = [SourceRecord(rid, files[rid], (files[rid],)) for rid in reference]

    store_kwargs = {k: v for k, v in kwargs.items() if k in store_keys}
    stored = load_signals("cpsc2018-original", sources, read_cpsc2018_mat, config,
                          url=CPSC2018_URL, **store_kwargs)  # fmt: skip
    labels = np.zeros((len(stored.record_ids), len(CPSC2018_CLASSES)), dtype=np.float32)
    for i, rid in enumerate(stored.record_ids):
        for k in reference[rid]:
            labels[i, k - 1] = 1.0
    fields = [header_fields(c) for c in stored.comments]
    ids = np.asarray(stored.record_ids)
    return finish_dataset(
        stored, config, name="cpsc2018", labels=labels, classes=CPSC2018_CLASSES,
        split=make_split(ids, labels, split_method), subset=split,
        record_info={"age": np.array([f.get("age", "") for f in fields]),
                     "sex": np.array([f.get("sex", "") for f in fields])},
        info={"layout": "original", "root": str(path), "url": CPSC2018_URL},
    )  # fmt: skip
