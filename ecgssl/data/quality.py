"""Plausibility checks of one record in millivolts, and summaries of why records were skipped.

Readers of large, uncurated collections (MIMIC-IV-ECG, CODE-15 %, the CinC 2021 sources) pass
what they read through :func:`check_signal`: a record without any signal, or whose amplitude
cannot be an ECG in mV (a header gain or unit that disagrees with the data), raises a
``ValueError`` that the store reports as the record's skip reason; flat leads are noted in a
``Flat leads:`` comment so that the loader can flag or drop the record.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

import numpy as np

from ecgssl.data.records import Record, header_fields
from ecgssl.errors import InvalidValueError

__all__ = [
    "AMPLITUDE_RANGE_MV",
    "FLAT_LEADS",
    "FLAT_MV",
    "amplitude_mv",
    "check_signal",
    "flat_lead_filter",
    "flat_leads",
    "flat_leads_of",
    "reason_kind",
    "summarize_skipped",
]

#: A lead whose peak-to-peak range is below this (1 µV) carries no signal.
FLAT_MV = 1e-3
#: The plausible range of :func:`amplitude_mv` for an ECG in mV: 1 µV to 20 mV.
AMPLITUDE_RANGE_MV = (1e-3, 20.0)
_FLAT_KEY = "flat leads"
#: What a loader does with a record with some flat leads: drop and report it, or keep it
#: (flagged in ``record_info["flat_leads"]``).
FLAT_LEADS = ("skip", "keep")


def amplitude_mv(x: np.ndarray) -> float:
    """The record's typical peak amplitude: the median over leads of the 99th percentile of
    ``|lead - median(lead)|`` (robust to a few spikes and to baseline offsets)."""
    x = np.asarray(x, dtype=np.float64)
    dev = np.abs(x - np.median(x, axis=-1, keepdims=True))
    return float(np.median(np.percentile(dev, 99, axis=-1)))


def flat_leads(x: np.ndarray, leads: Iterable[str]) -> list[str]:
    """The names of the leads of ``x`` (leads, time) whose range is below :data:`FLAT_MV`."""
    ptp = np.ptp(np.asarray(x, dtype=np.float64), axis=-1)
    return [name for name, r in zip(leads, ptp) if r < FLAT_MV]


def check_signal(rec: Record) -> Record:
    """``rec`` if it is a plausible ECG in mV, with a ``Flat leads: V1, V2`` comment added
    when some (not all) leads are flat.

    Raises:
        ValueError: NaN/Inf samples, every lead constant ("no signal"), or an amplitude outside
            :data:`AMPLITUDE_RANGE_MV` ("implausible amplitude"; e.g. a header gain that
            disagrees with the data).
    """
    bad = int((~np.isfinite(rec.signal)).sum())
    if bad:
        raise InvalidValueError(f"{bad} NaN/Inf samples")
    if not np.ptp(rec.signal, axis=-1).any():
        raise InvalidValueError("no signal: every lead is constant")
    amp = amplitude_mv(rec.signal)
    low, high = AMPLITUDE_RANGE_MV
    if not low <= amp <= high:
        raise InvalidValueError(
            f"implausible amplitude: typical peak {amp:.3g} mV, expected {low:g}-{high:g} mV "
            "(does the header's gain or unit disagree with the data?)"
        )
    flat = flat_leads(rec.signal, rec.leads)
    if flat:
        return replace(rec, comments=(*rec.comments, f"Flat leads: {', '.join(flat)}"))
    return rec


def flat_leads_of(comments: Iterable[Iterable[str]]) -> np.ndarray:
    """Per record, the ``Flat leads:`` noted by :func:`check_signal` (``""`` when none)."""
    return np.array([header_fields(c).get(_FLAT_KEY, "") for c in comments])


def flat_lead_filter(
    record_ids: Iterable[str], comments: Iterable[Iterable[str]], policy: str
) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Apply a :data:`FLAT_LEADS` policy to stored records.

    Returns:
        ``(flat, keep, skipped)``: the flat leads per record (``""`` when none), the
        boolean mask of records to keep, and ``{record id: reason}`` of those dropped.
    """
    if policy not in FLAT_LEADS:
        raise InvalidValueError(f"flat_leads must be one of {FLAT_LEADS}, got {policy!r}")
    flat = flat_leads_of(comments)
    keep = np.ones(len(flat), dtype=bool) if policy == "keep" else flat == ""
    skipped = {str(r): f"flat lead(s) {f}" for r, f, k in zip(record_ids, flat, keep) if not k}
    return flat, keep, skipped


_KINDS = (  # (pattern of a skip reason, its kind), first match wins
    (r"^missing ", "missing file"),
    (r"truncated", "truncated signal file"),
    (r"implausible amplitude", "implausible amplitude"),
    (r"no signal|flat lead", "flat signal"),
    (r"NaN", "NaN samples"),
    (r"header", "malformed header"),
)


def reason_kind(reason: str) -> str:
    """A short category of a skip reason (``"missing file"``, ``"truncated signal file"``,
    ``"implausible amplitude"``, ``"flat signal"``, ``"NaN samples"``, ``"malformed header"``,
    else its first word, e.g. ``"unreadable"``)."""
    for pattern, kind in _KINDS:
        if re.search(pattern, reason):
            return kind
    return reason.split(" ", 1)[0] if reason else "unknown"


def summarize_skipped(
    skipped: Mapping[str, str], group: Callable[[str], str]
) -> dict[str, dict[str, int]]:
    """Counts of skipped records per group (e.g. source) and :func:`reason_kind`."""
    counts: dict[str, Counter[str]] = {}
    for rid, reason in skipped.items():
        counts.setdefault(group(rid), Counter())[reason_kind(reason)] += 1
    return {g: dict(sorted(c.items())) for g, c in sorted(counts.items())}
