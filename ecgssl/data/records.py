"""Reading one ECG record from disk: WFDB (``.hea`` + ``.dat``/``.mat``) and the original
CPSC 2018 MATLAB struct; parsing ``Key: value`` header comments.

Readers are plain top-level functions ``path -> Record`` so that worker processes can run them.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ecgssl.errors import InvalidValueError

__all__ = [
    "CPSC2018_LEADS",
    "Record",
    "header_fields",
    "parse_dx_codes",
    "parse_scp_codes",
    "read_cpsc2018_mat",
    "read_wfdb",
]

#: Lead order of the original CPSC 2018 ``.mat`` files (``ECG.data`` rows).
CPSC2018_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
_UNIT_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3}


@dataclass(frozen=True)
class Record:
    """One record as read from disk.

    Attributes:
        signal: float array (leads, time) in millivolts.
        fs: Sampling rate in Hz.
        leads: Lead names as written in the file (any case).
        comments: Header comment lines (``"Dx: 426783006"``, ``"Age: 56"``...).
    """

    signal: np.ndarray
    fs: float
    leads: tuple[str, ...]
    comments: tuple[str, ...] = ()


def read_wfdb(path: str) -> Record:
    """Read a WFDB record (``path`` without extension) in millivolts.

    Handles every signal file format ``wfdb`` reads, including the PhysioNet/CinC
    Challenge's MATLAB v4 ``.mat`` signal files named in the header.

    Raises:
        ValueError: the signal is empty or holds NaN/Inf samples, or units are unknown.
        OSError: a file is missing or unreadable.
    """
    import wfdb  # imported lazily (a slow import)

    rec = wfdb.rdrecord(path, physical=True)
    if rec.p_signal is None or rec.p_signal.size == 0:
        raise InvalidValueError("the record holds no samples")
    x = np.asarray(rec.p_signal, dtype=np.float64).T
    scale = np.ones((x.shape[0], 1))
    for i, unit in enumerate(rec.units or []):
        key = (unit or "mV").strip().lower()
        if key not in _UNIT_TO_MV:
            raise InvalidValueError(f"unknown unit {unit!r} of signal {rec.sig_name[i]!r}")
        scale[i] = _UNIT_TO_MV[key]
    return _checked(Record(x * scale, float(rec.fs), tuple(rec.sig_name), tuple(rec.comments)))


def read_cpsc2018_mat(path: str) -> Record:
    """Read an original CPSC 2018 ``.mat`` file: a struct ``ECG`` with ``sex``, ``age`` and
    ``data`` (12, N) in mV at 500 Hz, leads I, II, III, aVR, aVL, aVF, V1–V6."""
    from scipy.io import loadmat

    mat = loadmat(path)
    if "ECG" not in mat:
        raise InvalidValueError(f"no struct 'ECG' in the file (keys: {sorted(mat)})")
    ecg = mat["ECG"][0, 0]
    x = np.asarray(ecg["data"], dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != 12:
        raise InvalidValueError(f"ECG.data must be shaped (12, samples), got {x.shape}")
    comments = [f"Age: {_scalar(ecg['age'])}", f"Sex: {_scalar(ecg['sex'])}"]
    return _checked(Record(x, 500.0, CPSC2018_LEADS, tuple(comments)))


def header_fields(comments: Iterable[str]) -> dict[str, str]:
    """``Key: value`` pairs of header comments, keys lower-cased without ``<>`` or ``#``.

    >>> header_fields(["Age: 56", "#<sex>: F", "Dx: 164889003,59118001"])
    {'age': '56', 'sex': 'F', 'dx': '164889003,59118001'}
    """
    out: dict[str, str] = {}
    for line in comments:
        m = re.match(r"^[#\s]*<?([^:<>]+?)>?\s*:\s*(.*)$", line)
        if m:
            out.setdefault(m.group(1).strip().lower(), m.group(2).strip())
    return out


def parse_scp_codes(text: str, record: str = "record") -> dict[str, float]:
    """PTB-XL's ``scp_codes`` cell, e.g. ``"{'NORM': 100.0, 'SR': 0.0}"``, as a dictionary.

    Only a literal ``{str: number}`` dictionary is accepted (parsed with ``ast.literal_eval``,
    which never runs code); anything else raises ``ValueError`` naming the record.
    """
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as e:
        raise InvalidValueError(
            f"{record}: scp_codes {text[:80]!r} is not a Python dict literal"
        ) from e
    if not isinstance(value, dict) or not all(
        isinstance(k, str)
        and isinstance(v, (int, float))
        and not isinstance(v, bool)
        and math.isfinite(v)
        for k, v in value.items()
    ):
        raise InvalidValueError(
            f"{record}: scp_codes must map statement codes to finite likelihoods, got {text[:80]!r}"
        )
    return {k.strip(): float(v) for k, v in value.items()}


def parse_dx_codes(text: str) -> list[str]:
    """The codes of a CinC ``# Dx:`` header value (comma-separated SNOMED CT codes), in order,
    without blanks or duplicates."""
    out: list[str] = []
    for code in text.split(","):
        code = code.strip()
        if code and code not in out:
            out.append(code)
    return out


def _scalar(value: np.ndarray) -> str:
    arr = np.asarray(value).ravel()
    while arr.size == 1 and arr.dtype == object:
        arr = np.asarray(arr[0]).ravel()
    return str(arr[0]) if arr.size else "Unknown"


def _checked(rec: Record) -> Record:
    bad = int((~np.isfinite(rec.signal)).sum())
    if bad:
        raise InvalidValueError(f"{bad} NaN/Inf samples")
    if rec.signal.shape[1] == 0:
        raise InvalidValueError("the record holds no samples")
    if not rec.fs > 0:
        raise InvalidValueError(f"sampling rate {rec.fs} is not positive")
    return rec
