"""The HCE 12-lead ECG set (``hce``): unlabeled recordings of subjects lying, sitting and
standing, for pretraining next to other data.

HCE (Hangzhou-Changsha Electrocardiogram; CC BY-SA 4.0): 10-s recordings of 72 subjects in
three postures, stored as ``HCE_processed/<subject>_<lie|sit|stand>_<k>.npy``, each int64
(1000, 12) raw ADC counts at 100 Hz with no stated gain and large per-channel DC offsets
(up to about 3e6 counts), columns in the order I, II, V1-V6, III, aVR, aVL, aVF.
Cite: "SAPTSTA-AnoECG: A PatchTST-based ECG Anomaly Detection Method with Subtractive
Attention and Data Augmentation".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfiltfilt

from ecgssl.data.arrays import hash_split
from ecgssl.data.assemble import finish_dataset, require_root
from ecgssl.data.base import ECGDataset
from ecgssl.data.preprocess import PreprocessConfig
from ecgssl.data.records import Record
from ecgssl.data.store import SourceRecord, load_signals
from ecgssl.errors import DataNotFoundError, InvalidValueError
from ecgssl.registry import DATASETS
from ecgssl.validation import STANDARD_LEADS

__all__ = [
    "HCE_COLUMNS",
    "HCE_FS",
    "HCE_POSTURES",
    "HCE_PREPROCESS",
    "HCE_SPLITS",
    "load_hce",
    "read_hce_bandpass",
    "read_hce_baseline",
]

HCE_URL = "the public HCE dataset repository (HCE_processed/, CC BY-SA 4.0)"
#: Column order of the HCE ``.npy`` files (mapped to the standard order on loading).
HCE_COLUMNS = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6", "III", "aVR", "aVL", "aVF")
#: Sampling rate of the processed files (1000 samples span 10 s).
HCE_FS = 100.0
HCE_POSTURES = ("lie", "sit", "stand")
#: ``"ptbxl"``: baseline removed, 0.5-40 Hz band-pass (4th-order Butterworth, zero phase),
#: then z-scored per record and lead, like the PTB-XL dev archive; ``"baseline"``: only each
#: channel's DC offset (median) removed, in ADC counts.
HCE_PREPROCESS = ("ptbxl", "baseline")
#: ``"hash"``: 70/15/15 % by a hash of the subject; ``"all_train"``: every record in train.
HCE_SPLITS = ("hash", "all_train")
_NAME = re.compile(r"^(?P<subject>[^_]+)_(?P<posture>lie|sit|stand)_(?P<k>\d+)\.npy$")
_BAND = (0.5, 40.0)
_ORDER = 4


def _read_counts(path: str) -> np.ndarray:
    """(12, time) float64 with each channel's median (its DC offset) subtracted."""
    a = np.load(path, allow_pickle=False)
    if a.ndim != 2 or a.shape[1] != len(HCE_COLUMNS):
        raise InvalidValueError(f"expected an array (time, 12) in HCE column order, got {a.shape}")
    if not np.issubdtype(a.dtype, np.number):
        raise InvalidValueError(f"expected numeric ADC counts, got dtype {a.dtype}")
    x = a.T.astype(np.float64)
    if not np.isfinite(x).all():
        raise InvalidValueError("holds NaN or Inf samples")
    return x - np.median(x, axis=1, keepdims=True)


def read_hce_baseline(path: str) -> Record:
    """One HCE file as (12, time) ADC counts (not mV) with each channel's DC offset removed;
    lead names in the file's column order (:data:`HCE_COLUMNS`)."""
    return Record(signal=_read_counts(path), fs=HCE_FS, leads=HCE_COLUMNS)


def read_hce_bandpass(path: str) -> Record:
    """One HCE file, DC offset removed and band-passed 0.5-40 Hz (4th-order Butterworth,
    zero phase) as the PTB-XL dev archive was; z-scoring follows in the loader."""
    sos = butter(_ORDER, _BAND, btype="bandpass", fs=HCE_FS, output="sos")
    x = sosfiltfilt(sos, _read_counts(path), axis=1)
    return Record(signal=np.asarray(x), fs=HCE_FS, leads=HCE_COLUMNS)


@DATASETS.register("hce")
def load_hce(
    root: str | Path | None = None,
    split: str | Sequence[str] | None = None,
    fs: float | None = None,
    leads: Sequence[str] | None = STANDARD_LEADS,
    window: float | None = 10.0,
    *,
    preprocess: str = "ptbxl",
    standardize: str | None = None,
    split_method: str = "hash",
    crop: str = "start",
    cache: bool | str | Path = True,
    strict: bool = False,
    n_jobs: int | None = None,
    progress: bool = True,
) -> ECGDataset:
    """The HCE recordings (``root/HCE_processed/*.npy``) as an unlabeled dataset.

    Columns are mapped to lead names (:data:`HCE_COLUMNS`) and returned in ``leads`` order
    (default: the standard I, II, III, aVR, aVL, aVF, V1-V6). By default
    (``preprocess="ptbxl"``) each record is prepared as the PTB-XL dev archive
    (``ptbxl_super_100hz_dev.npz``) was: DC offset removed, band-passed 0.5-40 Hz
    (4th-order Butterworth, zero phase), then z-scored per record and lead, so the two can
    be combined (:func:`ecgssl.data.combine_datasets`). ``preprocess="baseline"`` only
    removes each channel's DC offset: the signals stay in ADC counts (the gain is not
    stated), not mV.

    The subject is the patient id; ``record_info["posture"]`` is ``lie``, ``sit`` or
    ``stand``. Splits: 70/15/15 % by a hash of the subject, so a subject's records share a
    split (``split_method="all_train"``: every record in ``train``, e.g. for pretraining).

    Args:
        root: The folder holding ``HCE_processed/``.
        split: Return only ``"train"``, ``"val"`` or ``"test"`` (``None``: all records).
        fs: Output rate in Hz (``None``: the native 100 Hz).
        leads, window, crop: See :class:`ecgssl.data.PreprocessConfig`.
        preprocess: ``"ptbxl"`` or ``"baseline"`` (see :data:`HCE_PREPROCESS`).
        standardize: ``"none"``, ``"record"`` or ``"train"`` (default: ``"record"`` with
            ``preprocess="ptbxl"``, else ``"none"``).
        split_method: ``"hash"`` or ``"all_train"``.
        cache, strict, n_jobs, progress: See :func:`ecgssl.data.store.load_signals`.

    Raises:
        FileNotFoundError: ``root`` lacks ``HCE_processed/`` or holds no HCE file.
        ValueError: an unknown option.
    """
    if preprocess not in HCE_PREPROCESS:
        raise InvalidValueError(f"preprocess must be one of {HCE_PREPROCESS}, got {preprocess!r}")
    if split_method not in HCE_SPLITS:
        raise InvalidValueError(f"split_method must be one of {HCE_SPLITS}, got {split_method!r}")
    if standardize is None:
        standardize = "record" if preprocess == "ptbxl" else "none"
    path = require_root(root, "hce", ("HCE_processed",), HCE_URL)
    config = PreprocessConfig(fs=fs, leads=None if leads is None else tuple(leads),
                              window=window, crop=crop, standardize=standardize)  # fmt: skip
    folder = path / "HCE_processed"
    matches = sorted((m for m in map(_NAME.match, (p.name for p in folder.iterdir())) if m),
                     key=lambda m: (m["subject"], m["posture"], int(m["k"])))  # fmt: skip
    if not matches:
        raise DataNotFoundError(
            f"no HCE files (<subject>_<lie|sit|stand>_<k>.npy) in {str(folder)!r}"
        )
    sources = [SourceRecord(m.string[:-4], str(folder / m.string), (str(folder / m.string),))
               for m in matches]  # fmt: skip
    reader = read_hce_bandpass if preprocess == "ptbxl" else read_hce_baseline
    stored = load_signals("hce", sources, reader, config, cache=cache, strict=strict,
                          n_jobs=n_jobs, progress=progress, url=HCE_URL)  # fmt: skip
    ids = np.asarray(stored.record_ids)
    parts = [_NAME.match(f"{r}.npy") for r in ids]
    subjects = np.array([m["subject"] for m in parts if m])
    split_arr = (hash_split(subjects) if split_method == "hash"
                 else np.full(len(ids), "train"))  # fmt: skip
    return finish_dataset(
        stored, config, name="hce", split=split_arr, patient_ids=subjects, subset=split,
        info={"root": str(path), "hce_preprocess": preprocess, "split_method": split_method,
              "units": "z-scored" if standardize != "none" else "ADC counts"},
        record_info={"posture": np.array([m["posture"] for m in parts if m])},
    )  # fmt: skip
