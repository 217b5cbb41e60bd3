"""Frequency-domain filtering: batched zero-phase Butterworth-magnitude filters via rFFT."""

from __future__ import annotations

import torch
from torch import Tensor

from ecgssl.augment.base import Augmentation, uniform
from ecgssl.errors import InvalidValueError
from ecgssl.registry import AUGMENTATIONS
from ecgssl.validation import check_int, check_range_pair

__all__ = ["BandPass", "LowPass", "fft_filter"]


def fft_filter(
    x: Tensor,
    fs: float,
    low_hz: Tensor | float | None = None,
    high_hz: Tensor | float | None = None,
    order: int = 2,
) -> Tensor:
    """Zero-phase filter along time with a Butterworth magnitude response, in one rFFT.

    The gain is ``|H_hp(f)| * |H_lp(f)|`` with ``|H_lp| = 1 / sqrt(1 + (f / high)^(2 order))``
    and ``|H_hp| = 1 / sqrt(1 + (low / f)^(2 order))``. Cutoffs may be per-sample tensors of
    shape (batch,). High cutoffs at or above Nyquist leave high frequencies untouched.

    Args:
        x: (batch, leads, time) signal.
        fs: Sampling rate in Hz.
        low_hz: High-pass cutoff (``None``: no high-pass).
        high_hz: Low-pass cutoff (``None``: no low-pass).
        order: Butterworth order of each side.

    Returns:
        The filtered signal, same shape and dtype.
    """
    t = x.shape[-1]
    spec = torch.fft.rfft(x.float(), dim=-1)
    f = torch.fft.rfftfreq(t, d=1.0 / fs).to(x.device)[None, :]  # (1, F)
    gain = torch.ones_like(f)
    b = x.shape[0]
    if high_hz is not None:
        hi = torch.as_tensor(high_hz, device=x.device, dtype=torch.float32).reshape(-1, 1)
        gain = gain / torch.sqrt(1 + (f / hi.clamp_min(1e-6)) ** (2 * order))
    if low_hz is not None:
        lo = torch.as_tensor(low_hz, device=x.device, dtype=torch.float32).reshape(-1, 1)
        ratio = lo / f.clamp_min(1e-6)
        gain = gain / torch.sqrt(1 + ratio ** (2 * order))
    gain = gain.expand(b, -1)[:, None, :]
    return torch.fft.irfft(spec * gain, n=t, dim=-1).to(x.dtype)


@AUGMENTATIONS.register("bandpass", "band_pass")
class BandPass(Augmentation):
    """Band-pass filter with random per-sample cutoffs.

    Simulates the different front-end filters of ECG devices (diagnostic 0.05–150 Hz versus
    monitoring 0.5–40 Hz bandwidths) that reshape baseline and QRS detail.

    Args:
        low_hz: (min, max) high-pass cutoff in Hz.
        high_hz: (min, max) low-pass cutoff in Hz (clamped below Nyquist).
        order: Butterworth order.
    """

    def __init__(
        self,
        low_hz: tuple[float, float] = (0.05, 0.7),
        high_hz: tuple[float, float] = (25.0, 45.0),
        order: int = 2,
    ) -> None:
        self.low_hz = check_range_pair(low_hz, "low_hz", 0.0, 1e4)
        self.high_hz = check_range_pair(high_hz, "high_hz", 1e-3, 1e4)
        if self.low_hz[1] >= self.high_hz[0]:
            raise InvalidValueError(f"low_hz {self.low_hz} must lie below high_hz {self.high_hz}")
        self.order = check_int(order, "order", 1, 16)

    def apply(self, x: Tensor, fs: float, generator: torch.Generator | None) -> Tensor:
        b = x.shape[0]
        lo = uniform(*self.low_hz, (b,), generator, x.device)
        hi = uniform(*self.high_hz, (b,), generator, x.device).clamp_max(0.49 * fs)
        return fft_filter(x, fs, lo, hi, self.order)


@AUGMENTATIONS.register("lowpass", "low_pass")
class LowPass(Augmentation):
    """Low-pass filter with a random per-sample cutoff.

    Simulates monitoring-mode filtering and smoothing of QRS notches and high-frequency
    content.

    Args:
        high_hz: (min, max) cutoff in Hz (clamped below Nyquist).
        order: Butterworth order.
    """

    def __init__(self, high_hz: tuple[float, float] = (20.0, 40.0), order: int = 2) -> None:
        self.high_hz = check_range_pair(high_hz, "high_hz", 1e-3, 1e4)
        self.order = check_int(order, "order", 1, 16)

    def apply(self, x: Tensor, fs: float, generator: torch.Generator | None) -> Tensor:
        hi = uniform(*self.high_hz, (x.shape[0],), generator, x.device).clamp_max(0.49 * fs)
        return fft_filter(x, fs, None, hi, self.order)
