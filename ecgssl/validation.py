"""Input checks shared by every stage; each raises an error that names the problem."""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ecgssl.errors import InvalidTypeError, InvalidValueError

__all__ = [
    "STANDARD_LEADS",
    "check_finite",
    "check_in_range",
    "check_int",
    "check_lead_names",
    "check_positive",
    "check_signal",
    "lead_indices",
    "plain_value",
]

#: The standard 12-lead order used throughout ecgssl.
STANDARD_LEADS: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)  # fmt: skip


def check_signal(
    x: Tensor,
    *,
    name: str = "signal",
    n_leads: int | None = None,
    min_length: int | None = None,
    length: int | None = None,
    finite: bool = True,
) -> Tensor:
    """Check that ``x`` is a floating (batch, leads, time) tensor and return it.

    Args:
        x: The tensor to check.
        name: How the tensor is called in error messages.
        n_leads: Required number of leads, or ``None`` for any.
        min_length: Minimum number of time samples, or ``None``.
        length: Exact number of time samples, or ``None`` for any.
        finite: Also reject NaN and Inf values.

    Raises:
        TypeError: ``x`` is not a floating-point tensor.
        ValueError: wrong number of dimensions, leads or samples, or non-finite values.
    """
    if not isinstance(x, Tensor):
        raise InvalidTypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise InvalidTypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.ndim != 3:
        raise InvalidValueError(
            f"{name} must be shaped (batch, leads, time), got {x.ndim} dimensions "
            f"with shape {tuple(x.shape)}"
        )
    if n_leads is not None and x.shape[1] != n_leads:
        raise InvalidValueError(f"{name} has {x.shape[1]} leads, but {n_leads} are expected")
    if length is not None and x.shape[2] != length:
        raise InvalidValueError(
            f"{name} has {x.shape[2]} time samples, but exactly {length} are expected"
        )
    if min_length is not None and x.shape[2] < min_length:
        raise InvalidValueError(
            f"{name} has {x.shape[2]} time samples, shorter than the {min_length} required"
        )
    if finite:
        check_finite(x, name=name)
    return x


def check_finite(x: Tensor, *, name: str = "tensor") -> Tensor:
    """Raise ``ValueError`` if ``x`` holds NaN or Inf, naming how many and where."""
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        n_nan = int(torch.isnan(x).sum())
        n_inf = int(bad.sum()) - n_nan
        where = ""
        if x.ndim >= 1:
            rows = torch.nonzero(bad.reshape(x.shape[0], -1).any(dim=1)).flatten()[:5].tolist()
            where = f" (first affected batch indices: {rows})"
        raise InvalidValueError(f"{name} contains {n_nan} NaN and {n_inf} Inf values{where}")
    return x


def _finite(value: float) -> bool:
    """Finite, and (for ints) within int64, the range torch accepts for Python scalars."""
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return math.isfinite(value)


def check_positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    """Raise ``ValueError`` unless ``value`` is a finite number > 0 (or >= 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidTypeError(f"{name} must be a number, got {type(value).__name__}")
    ok = value >= 0 if allow_zero else value > 0
    if not ok or not _finite(value):
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidValueError(f"{name} must be a finite number {bound}, got {value}")
    return value


def check_in_range(
    value: float, name: str, low: float, high: float, *, inclusive: bool = True
) -> float:
    """Raise ``ValueError`` unless ``low <= value <= high`` (or strict when not inclusive)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidTypeError(f"{name} must be a number, got {type(value).__name__}")
    ok = low <= value <= high if inclusive else low < value < high
    if not ok or not _finite(value):
        brackets = "[]" if inclusive else "()"
        raise InvalidValueError(
            f"{name} must lie in {brackets[0]}{low}, {high}{brackets[1]}, got {value}"
        )
    return value


def check_int(value: object, name: str, low: int, high: int | None = None) -> int:
    """Raise ``ValueError`` unless ``value`` is an integer (not a bool) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidValueError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if v < low or (high is not None and v > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise InvalidValueError(f"{name} must be an integer {bound}, got {v}")
    return v


def check_range_pair(
    value: Sequence[float], name: str, low: float, high: float
) -> tuple[float, float]:
    """Check a ``(min, max)`` pair with ``low <= min <= max <= high``; return it as a tuple."""
    if len(value) != 2:
        raise InvalidValueError(f"{name} must be a (min, max) pair, got {value!r}")
    try:
        a, b = float(value[0]), float(value[1])
    except OverflowError as e:  # an int beyond the float range
        raise InvalidValueError(f"{name} must be a pair of finite numbers, got {value!r}") from e
    if not (low <= a <= b <= high) or not (math.isfinite(a) and math.isfinite(b)):
        raise InvalidValueError(
            f"{name} must satisfy {low} <= min <= max <= {high}, got ({a}, {b})"
        )
    return a, b


def check_lead_names(
    leads: Sequence[str], *, n_leads: int | None = None, name: str = "leads"
) -> tuple[str, ...]:
    """Check a list of lead names (non-empty strings, no duplicates, right count).

    Args:
        leads: Lead names, one per signal row.
        n_leads: Required number of names, or ``None`` for any.
        name: How the list is called in error messages.

    Returns:
        The names as a tuple.

    Raises:
        TypeError: ``leads`` is a single string or holds non-strings.
        ValueError: empty names, duplicates, or a count that differs from ``n_leads``.
    """
    if isinstance(leads, str) or not isinstance(leads, Sequence):
        raise InvalidTypeError(f"{name} must be a sequence of lead names, got {leads!r}")
    bad = [v for v in leads if not isinstance(v, str) or not v.strip()]
    if bad:
        raise InvalidTypeError(f"{name} must be non-empty strings, got {bad[:5]!r}")
    dupes = sorted({v for v in leads if list(leads).count(v) > 1})
    if dupes:
        raise InvalidValueError(f"{name} holds duplicate lead names {dupes}")
    if n_leads is not None and len(leads) != n_leads:
        raise InvalidValueError(
            f"{len(leads)} {name} given for {n_leads} signal leads: {list(leads)}"
        )
    return tuple(leads)


def lead_indices(requested: Sequence[str], available: Sequence[str]) -> list[int]:
    """Positions of the ``requested`` lead names in ``available`` (in the requested order).

    Raises:
        ValueError: a requested name is not available; the message lists close matches
            and every available name.
    """
    check_lead_names(requested, name="requested leads")
    avail = list(available)
    unknown = [v for v in requested if v not in avail]
    if unknown:
        hints = []
        for v in unknown:
            close = difflib.get_close_matches(v, avail, n=3, cutoff=0.5) or [
                a for a in avail if a.lower() == v.lower()
            ]
            hints.append(f"{v!r}" + (f" (did you mean {close}?)" if close else ""))
        raise InvalidValueError(
            f"unknown lead name(s) {', '.join(hints)}; available leads: {avail}"
        )
    return [avail.index(v) for v in requested]


def plain_value(
    obj: Any, name: str = "value", *, tensors: bool = False, tuples: bool = False,
    store: str = "a JSON file",
) -> Any:  # fmt: skip
    """A copy of ``obj`` made of plain data: dicts (string keys), lists, str, int, float, bool
    and None; numpy scalars and arrays become Python values and lists, paths strings, tuples
    lists (``tuples=True`` keeps them); tensors pass with ``tensors=True``.

    Raises:
        InvalidTypeError: anything else; the message names where it sits and says which
            ``store`` (e.g. "a checkpoint") cannot hold it.
    """
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if tensors and isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)

    def inner(value: Any, where: str) -> Any:
        return plain_value(value, where, tensors=tensors, tuples=tuples, store=store)

    if isinstance(obj, Mapping):
        return {str(k): inner(v, f"{name}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        items = [inner(v, f"{name}[{i}]") for i, v in enumerate(obj)]
        return tuple(items) if tuples and isinstance(obj, tuple) else items
    raise InvalidTypeError(
        f"{name} holds a {type(obj).__name__}, which {store} cannot store; use numbers, "
        "strings, lists and dicts"
    )
