"""Input checks shared by every stage; each raises an error that names the problem."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "STANDARD_LEADS",
    "check_finite",
    "check_in_range",
    "check_positive",
    "check_signal",
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
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.ndim != 3:
        raise ValueError(
            f"{name} must be shaped (batch, leads, time), got {x.ndim} dimensions "
            f"with shape {tuple(x.shape)}"
        )
    if n_leads is not None and x.shape[1] != n_leads:
        raise ValueError(f"{name} has {x.shape[1]} leads, but {n_leads} are expected")
    if length is not None and x.shape[2] != length:
        raise ValueError(f"{name} has {x.shape[2]} time samples, but exactly {length} are expected")
    if min_length is not None and x.shape[2] < min_length:
        raise ValueError(
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
        raise ValueError(f"{name} contains {n_nan} NaN and {n_inf} Inf values{where}")
    return x


def check_positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    """Raise ``ValueError`` unless ``value`` is a finite number > 0 (or >= 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    ok = value >= 0 if allow_zero else value > 0
    if not ok or not math.isfinite(value):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value}")
    return value


def check_in_range(
    value: float, name: str, low: float, high: float, *, inclusive: bool = True
) -> float:
    """Raise ``ValueError`` unless ``low <= value <= high`` (or strict when not inclusive)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    ok = low <= value <= high if inclusive else low < value < high
    if not ok or not math.isfinite(value):
        brackets = "[]" if inclusive else "()"
        raise ValueError(f"{name} must lie in {brackets[0]}{low}, {high}{brackets[1]}, got {value}")
    return value


def check_range_pair(
    value: Sequence[float], name: str, low: float, high: float
) -> tuple[float, float]:
    """Check a ``(min, max)`` pair with ``low <= min <= max <= high``; return it as a tuple."""
    if len(value) != 2:
        raise ValueError(f"{name} must be a (min, max) pair, got {value!r}")
    a, b = float(value[0]), float(value[1])
    if not (low <= a <= b <= high) or not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"{name} must satisfy {low} <= min <= max <= {high}, got ({a}, {b})")
    return a, b
