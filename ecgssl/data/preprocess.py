"""Record preprocessing in physical units: lead selection by name, polyphase resampling,
band-pass filtering, a fixed window (crop/pad) and standardisation.

:class:`PreprocessConfig` holds the options; :func:`preprocess_record` applies them to one
(leads, time) record in this order: select leads -> resample -> band-pass -> window ->
per-record standardisation. Standardisation with train-split statistics
(``standardize="train"``) needs the whole dataset and is applied by the loaders afterwards
(:func:`standardize_with_train_stats`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from scipy.signal import butter, resample_poly, sosfiltfilt

from ecgssl.errors import InvalidValueError
from ecgssl.validation import STANDARD_LEADS

__all__ = [
    "CROPS",
    "MISSING_LEADS",
    "STANDARDIZE",
    "MissingLeadsError",
    "PreprocessConfig",
    "bandpass",
    "canonical_lead",
    "fix_length",
    "preprocess_record",
    "resample",
    "select_leads",
    "standardize_records",
    "standardize_with_train_stats",
]

CROPS = ("start", "center")
STANDARDIZE = ("none", "record", "train")
MISSING_LEADS = ("raise", "zero")
_CANONICAL = {name.lower(): name for name in STANDARD_LEADS}
_FILTER_ORDER = 3


class MissingLeadsError(InvalidValueError):
    """A requested lead is absent from a record (and ``missing_leads="raise"``)."""


def canonical_lead(name: str) -> str:
    """The standard spelling of a lead name (``"AVR"``, ``"avr"`` -> ``"aVR"``); other names
    (e.g. Frank leads ``vx``) are returned stripped but otherwise unchanged."""
    s = str(name).strip()
    return _CANONICAL.get(s.lower(), s)


@dataclass(frozen=True)
class PreprocessConfig:
    """How records are turned into fixed-size arrays (units: Hz and seconds).

    Args:
        fs: Output sampling rate in Hz (``None``: keep the native rate, which must then be
            the same for every record).
        leads: Lead names in output order, matched case-insensitively (``None``: keep the
            native leads, the same for every record).
        window: Output length in seconds (``None``: the native length, the same for every
            record). Longer records are cropped (see ``crop``), shorter ones zero-padded at
            the end.
        crop: Which part of a longer record is kept: ``"start"`` or ``"center"``.
        bandpass: ``(low, high)`` cut-offs in Hz of a zero-phase Butterworth band-pass
            (order 3); either may be ``None`` for a high- or low-pass; ``None``: no filter.
        standardize: ``"none"``, ``"record"`` (each lead of each record to zero mean and unit
            variance) or ``"train"`` (per-lead mean and s.d. of the train split only).
        missing_leads: ``"raise"`` when a requested lead is absent, or ``"zero"`` to fill it
            with zeros (flagged in ``record_info["lead_missing"]``).
    """

    fs: float | None = None
    leads: tuple[str, ...] | None = None
    window: float | None = None
    crop: str = "start"
    bandpass: tuple[float | None, float | None] | None = None
    standardize: str = "none"
    missing_leads: str = "raise"

    def __post_init__(self) -> None:
        if self.fs is not None and (
            isinstance(self.fs, bool)
            or not isinstance(self.fs, (int, float))
            or not math.isfinite(self.fs)
            or self.fs <= 0
        ):
            raise InvalidValueError(
                f"fs must be a positive sampling rate in Hz or None, got {self.fs!r}"
            )
        if self.leads is not None:
            if isinstance(self.leads, str) or not isinstance(self.leads, Sequence):
                raise InvalidValueError(
                    f"leads must be a sequence of lead names, got {self.leads!r}"
                )
            leads = tuple(canonical_lead(n) for n in self.leads)
            if not leads:
                raise InvalidValueError("leads must name at least one lead")
            lower = [n.lower() for n in leads]
            dup = sorted({n for n in leads if lower.count(n.lower()) > 1})
            if dup:
                raise InvalidValueError(f"leads names {dup} more than once")
            object.__setattr__(self, "leads", leads)
        if self.window is not None and (
            isinstance(self.window, bool)
            or not isinstance(self.window, (int, float))
            or not math.isfinite(self.window)
            or self.window <= 0
        ):
            raise InvalidValueError(f"window must be a positive duration in seconds or None, got {self.window!r}")  # fmt: skip
        if self.crop not in CROPS:
            raise InvalidValueError(f"crop must be one of {CROPS}, got {self.crop!r}")
        if self.standardize not in STANDARDIZE:
            raise InvalidValueError(
                f"standardize must be one of {STANDARDIZE}, got {self.standardize!r}"
            )
        if self.missing_leads not in MISSING_LEADS:
            raise InvalidValueError(
                f"missing_leads must be one of {MISSING_LEADS}, got {self.missing_leads!r}"
            )
        if self.bandpass is not None:
            if len(self.bandpass) != 2:
                raise InvalidValueError(f"bandpass must be a (low, high) pair in Hz, got {self.bandpass!r}")  # fmt: skip
            low, high = self.bandpass
            if low is None and high is None:
                raise InvalidValueError("bandpass needs a low or a high cut-off (or bandpass=None)")
            for v in (low, high):
                if v is not None and not (isinstance(v, (int, float)) and 0 < v < math.inf):
                    raise InvalidValueError(f"bandpass cut-offs must be positive Hz, got {self.bandpass!r}")  # fmt: skip
            if low is not None and high is not None and low >= high:
                raise InvalidValueError(f"bandpass low must be below high, got {self.bandpass!r}")
            if self.fs is not None and high is not None and high >= self.fs / 2:
                raise InvalidValueError(
                    f"bandpass high cut-off {high} Hz must be below the Nyquist frequency "
                    f"{self.fs / 2:g} Hz of fs={self.fs:g}"
                )
            object.__setattr__(self, "bandpass", (low, high))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready options (for manifests, checkpoints and cache keys)."""
        d = asdict(self)
        d["leads"] = list(self.leads) if self.leads is not None else None
        d["bandpass"] = list(self.bandpass) if self.bandpass is not None else None
        return d

    def record_key(self) -> dict[str, Any]:
        """The options that change the cached per-record arrays (not train-split stats)."""
        d = self.to_dict()
        if d["standardize"] == "train":
            d["standardize"] = "none"
        return d


def select_leads(
    x: np.ndarray, have: Sequence[str], want: Sequence[str], missing: str = "raise"
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``x`` (leads, time) in the order of ``want``, matched case-insensitively.

    Returns:
        ``(signal, missing_mask)``; missing leads are zero rows when ``missing="zero"``.

    Raises:
        MissingLeadsError: a lead of ``want`` is absent and ``missing="raise"``.
    """
    index: dict[str, int] = {}
    for i, name in enumerate(have):
        index.setdefault(canonical_lead(name).lower(), i)
    rows = [index.get(canonical_lead(w).lower(), -1) for w in want]
    mask = np.array([r < 0 for r in rows], dtype=bool)
    if mask.any() and missing != "zero":
        absent = [w for w, m in zip(want, mask) if m]
        raise MissingLeadsError(
            f"lead(s) {absent} not found among {list(have)}; choose leads= from those, or "
            "pass missing_leads='zero' to zero-fill (and flag) them"
        )
    out = np.zeros((len(rows), x.shape[1]), dtype=x.dtype)
    for j, r in enumerate(rows):
        if r >= 0:
            out[j] = x[r]
    return out, mask


def resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Resample (..., time) from ``fs_in`` to ``fs_out`` Hz with scipy's polyphase filter."""
    if math.isclose(fs_in, fs_out):
        return x
    ratio = Fraction(float(fs_out) / float(fs_in)).limit_denominator(1000)
    return np.asarray(resample_poly(x, ratio.numerator, ratio.denominator, axis=-1))


def bandpass(x: np.ndarray, fs: float, low: float | None, high: float | None) -> np.ndarray:
    """Zero-phase Butterworth (order 3) band-, high- or low-pass of (..., time) at ``fs`` Hz."""
    if high is not None and high >= fs / 2:
        raise InvalidValueError(
            f"bandpass high cut-off {high} Hz is not below Nyquist ({fs / 2:g} Hz)"
        )
    if low is not None and high is not None:
        sos = butter(_FILTER_ORDER, [low, high], btype="bandpass", fs=fs, output="sos")
    elif low is not None:
        sos = butter(_FILTER_ORDER, low, btype="highpass", fs=fs, output="sos")
    else:
        sos = butter(_FILTER_ORDER, high, btype="lowpass", fs=fs, output="sos")
    return np.asarray(sosfiltfilt(sos, x, axis=-1))


def fix_length(x: np.ndarray, n: int, crop: str = "start") -> np.ndarray:
    """Crop (from the start or centre) or zero-pad (at the end) (..., time) to ``n`` samples."""
    t = x.shape[-1]
    if t > n:
        start = 0 if crop == "start" else (t - n) // 2
        return x[..., start : start + n]
    if t < n:
        pad = [(0, 0)] * (x.ndim - 1) + [(0, n - t)]
        return np.pad(x, pad)
    return x


def standardize_records(x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Each lead of each record (..., time) to zero mean and unit variance (flat leads -> 0)."""
    mean = x.mean(axis=-1, keepdims=True)
    std = x.std(axis=-1, keepdims=True)
    return (x - mean) / np.maximum(std, eps)


def standardize_with_train_stats(
    signals: np.ndarray, train: np.ndarray, eps: float = 1e-6
) -> tuple[np.ndarray, dict[str, list[float]]]:
    """Standardise (records, leads, time) with the per-lead mean and s.d. of the records
    selected by the boolean mask ``train``.

    Returns:
        The standardised float32 signals and ``{"mean": [...], "std": [...]}`` per lead.

    Raises:
        ValueError: no record is in the train split.
    """
    if not np.any(train):
        raise InvalidValueError("standardize='train' needs records in the train split, found none")
    tr = np.asarray(signals[np.asarray(train, dtype=bool)], dtype=np.float64)
    mean = tr.mean(axis=(0, 2))
    std = np.maximum(tr.std(axis=(0, 2)), eps)
    out = ((signals - mean[None, :, None]) / std[None, :, None]).astype(np.float32)
    return out, {"mean": mean.tolist(), "std": std.tolist()}


def preprocess_record(
    x: np.ndarray,
    fs: float,
    leads: Sequence[str],
    config: PreprocessConfig,
    out_fs: float,
    out_leads: Sequence[str],
    out_length: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``config`` to one record ``x`` (leads, time) sampled at ``fs``.

    Args:
        x: The record, in mV.
        fs: Its sampling rate in Hz.
        leads: Its lead names.
        config: The options (crop, band-pass, standardisation, missing leads).
        out_fs: Output rate (``config.fs`` or the dataset's native rate).
        out_leads: Output leads (``config.leads`` or the dataset's native leads).
        out_length: Output samples; ``None`` requires the resampled length to be kept.

    Returns:
        ``(signal, missing_mask)``: float32 (len(out_leads), out_length) and a boolean mask of
        zero-filled leads.
    """
    y, mask = select_leads(x, leads, out_leads, config.missing_leads)
    y = resample(y, fs, out_fs)
    if config.bandpass is not None:
        y = bandpass(y, out_fs, *config.bandpass)
    if out_length is not None:
        y = fix_length(y, out_length, config.crop)
    if config.standardize == "record":
        y = standardize_records(y)
        y[mask] = 0.0
    return y.astype(np.float32), mask
