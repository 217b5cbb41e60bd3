"""Reading one PhysioNet/CinC Challenge 2020/2021 record (a WFDB header + a MATLAB v4 ``.mat``)
tolerant of the header quirks the challenge releases ship.

The challenge headers are WFDB headers, mostly: some first lines carry dates that are not
WFDB's ``HH:MM:SS DD/MM/YYYY`` (``05-Jun-2020``, ``NaN``) or the record name with the
``.mat`` extension (``A0001.mat 12 500 7500``), which strict WFDB readers refuse. This reader
parses the header itself, notes such repairs in a ``Header quirks:`` comment, reads the
``val`` matrix (int16, leads x samples) and scales it with the header's gains, baselines and
units. Whatever cannot be repaired raises ``ValueError`` naming the reason: a malformed header,
a missing, truncated or mis-shaped signal file, or an implausible amplitude
(:func:`ecgssl.data.quality.check_signal`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgssl.data.quality import check_signal
from ecgssl.data.records import Record
from ecgssl.errors import InvalidValueError

__all__ = ["CincHeader", "parse_cinc_header", "read_cinc"]

_UNIT_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3}
_GAIN = re.compile(r"^([-+]?[\d.]+(?:[eE][-+]?\d+)?)(?:\(([-+]?\d+)\))?(?:/(\S+))?$")
_TIME = re.compile(r"^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")
_DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")


@dataclass(frozen=True)
class CincHeader:
    """A parsed challenge header.

    Attributes:
        name: Record name (without a ``.mat`` the first line may carry).
        fs: Sampling rate in Hz.
        n_samples: Samples per lead (``None`` when the header omits it).
        files: Signal file of each lead.
        gains: ADC units per physical unit, per lead.
        baselines: ADC value of 0 physical units, per lead.
        units: Physical unit per lead (``"mV"``...).
        leads: Lead names.
        comments: Comment lines without ``#``.
        quirks: What was repaired while parsing (empty for a clean WFDB header).
    """

    name: str
    fs: float
    n_samples: int | None
    files: tuple[str, ...]
    gains: tuple[float, ...]
    baselines: tuple[int, ...]
    units: tuple[str, ...]
    leads: tuple[str, ...]
    comments: tuple[str, ...]
    quirks: tuple[str, ...]


def _number(text: str, what: str) -> float:
    m = re.match(r"^[-+]?[\d.]+(?:[eE][-+]?\d+)?", text)
    if not m:
        raise InvalidValueError(f"malformed header: {what} {text!r} is not a number")
    return float(m.group(0))


def parse_cinc_header(text: str) -> CincHeader:
    """Parse a challenge ``.hea`` file's text (see the module doc for the quirks tolerated).

    Raises:
        ValueError: ``"malformed header: ..."`` naming the first field that cannot be read.
    """
    lines = [line.strip() for line in text.splitlines()]
    comments = tuple(line.lstrip("#").strip() for line in lines if line.startswith("#"))
    body = [line for line in lines if line and not line.startswith("#")]
    if not body:
        raise InvalidValueError("malformed header: no record line")
    first = body[0].split()
    if len(first) < 3:
        raise InvalidValueError(
            f"malformed header: record line {body[0]!r} lacks name, signals, rate"
        )
    quirks = []
    name = first[0]
    if name.lower().endswith(".mat"):
        quirks.append(f"record name {name!r} with extension")
        name = name[:-4]
    n_sig = int(_number(first[1], "number of signals"))
    fs = _number(first[2].split("/")[0], "sampling rate")
    if not fs > 0:
        raise InvalidValueError(f"malformed header: sampling rate {fs:g} is not positive")
    n_samples = int(_number(first[3], "number of samples")) if len(first) > 3 else None
    extra = first[4:]
    if extra and not (_TIME.match(extra[0]) and all(_DATE.match(e) for e in extra[1:2])):
        quirks.append(f"non-WFDB date/time {' '.join(extra)!r}")
    signal_lines = body[1 : 1 + n_sig]
    if len(signal_lines) != n_sig:
        raise InvalidValueError(
            f"malformed header: {n_sig} signals declared, {len(signal_lines)} signal lines"
        )
    files: list[str] = []
    gains: list[float] = []
    baselines: list[int] = []
    units: list[str] = []
    leads: list[str] = []
    for line in signal_lines:
        parts = line.split()
        if len(parts) < 2:
            raise InvalidValueError(f"malformed header: signal line {line!r}")
        fmt = re.split(r"[x:+]", parts[1])[0]
        if fmt != "16":
            raise InvalidValueError(f"malformed header: signal format {parts[1]!r} (expected 16)")
        m = _GAIN.match(parts[2]) if len(parts) > 2 else None
        if len(parts) > 2 and not m:
            raise InvalidValueError(f"malformed header: gain {parts[2]!r} of signal line {line!r}")
        gain = float(m.group(1)) if m else 200.0
        if not gain > 0:
            raise InvalidValueError(f"malformed header: gain {gain:g} (uncalibrated signal)")
        zero = int(_number(parts[4], "ADC zero")) if len(parts) > 4 else 0
        unit = (m.group(3) if m and m.group(3) else "mV").strip()
        if unit.lower() not in _UNIT_TO_MV:
            raise InvalidValueError(f"malformed header: unknown unit {unit!r}")
        files.append(parts[0])
        gains.append(gain)
        baselines.append(int(m.group(2)) if m and m.group(2) is not None else zero)
        units.append(unit)
        leads.append(" ".join(parts[8:]) if len(parts) > 8 else f"signal{len(leads)}")
    return CincHeader(name, fs, n_samples, tuple(files), tuple(gains), tuple(baselines),
                      tuple(units), tuple(leads), comments, tuple(quirks))  # fmt: skip


def _read_val(path: Path, n_sig: int, n_samples: int | None) -> np.ndarray:
    from scipy.io import loadmat

    if not path.exists():
        raise InvalidValueError(f"missing signal file {path.name} (named in the header)")
    try:
        mat = loadmat(str(path))
    except Exception as e:  # scipy raises ValueError / MatReadError for a cut file
        raise InvalidValueError(f"truncated or corrupt signal file {path.name} ({e})") from None
    if "val" not in mat:
        raise InvalidValueError(
            f"signal file {path.name} holds no matrix 'val' (keys: {sorted(mat)})"
        )
    val = np.asarray(mat["val"])
    if val.ndim != 2 or val.shape[0] != n_sig:
        raise InvalidValueError(f"signal file {path.name}: 'val' is {val.shape}, header says {n_sig} leads")  # fmt: skip
    if n_samples is not None and val.shape[1] < n_samples:
        raise InvalidValueError(
            f"truncated signal file {path.name}: {val.shape[1]} of {n_samples} samples per lead"
        )
    if n_samples is not None and val.shape[1] > n_samples:
        raise InvalidValueError(
            f"signal file {path.name} holds {val.shape[1]} samples per lead, header says {n_samples}"
        )
    return val


def read_cinc(path: str) -> Record:
    """Read a challenge record (``path`` without extension: ``<path>.hea`` and the ``.mat``
    file its header names) in millivolts.

    Raises:
        ValueError: the reason the record cannot be used (see the module doc).
        OSError: the header cannot be read.
    """
    hea = Path(path + ".hea")
    header = parse_cinc_header(hea.read_text(encoding="utf-8", errors="replace"))
    if len(set(header.files)) != 1:
        raise InvalidValueError(
            f"malformed header: signals spread over files {sorted(set(header.files))}"
        )
    val = _read_val(hea.parent / header.files[0], len(header.leads), header.n_samples)
    gains = np.asarray(header.gains)[:, None]
    base = np.asarray(header.baselines, dtype=np.float64)[:, None]
    scale = np.array([_UNIT_TO_MV[u.lower()] for u in header.units])[:, None]
    x = (val.astype(np.float64) - base) / gains * scale
    comments = header.comments
    if header.quirks:
        comments = (*comments, f"Header quirks: {'; '.join(header.quirks)}")
    return check_signal(Record(x, header.fs, header.leads, comments))
