"""Time-axis augmentations: crops, shifts and warps, one window shared by all leads."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ecgssl.augment.base import Augmentation, rand, randint, uniform
from ecgssl.errors import InvalidValueError
from ecgssl.registry import AUGMENTATIONS
from ecgssl.validation import check_in_range, check_positive, check_range_pair

__all__ = [
    "RandomCrop",
    "RandomResizedCrop",
    "TimeShift",
    "TimeWarp",
    "interpolate_time",
    "resample_windows",
]


_MAX_SECONDS = 1e6  # durations beyond ~11 days are typos, and overflow sample counts


def _check_seconds(value: float, name: str) -> float:
    check_positive(value, name)
    return check_in_range(value, name, 0.0, _MAX_SECONDS)


def _samples(seconds: float, fs: float) -> int:
    return max(1, round(seconds * fs))


def _too_short(name: str, have: int, need: int, fs: float) -> ValueError:
    return ValueError(
        f"record has {have} samples ({have / fs:.2f} s at {fs:g} Hz) but {name} needs "
        f"{need} ({need / fs:.2f} s)"
    )


def resample_windows(x: Tensor, start: Tensor, length: Tensor, out_len: int) -> Tensor:
    """Linearly resample a per-sample window ``[start, start + length)`` to ``out_len`` samples.

    Args:
        x: (batch, leads, time).
        start: (batch,) window starts in samples (float allowed).
        length: (batch,) window lengths in samples (float allowed).
        out_len: Output length.

    Returns:
        (batch, leads, out_len), the same window for every lead of a sample.
    """
    t = x.shape[-1]
    steps = torch.arange(out_len, device=x.device, dtype=torch.float32)
    scale = (length.float() - 1).clamp_min(0) / max(out_len - 1, 1)
    pos = (start.float()[:, None] + steps[None, :] * scale[:, None]).clamp(0, t - 1)  # (B, out)
    return interpolate_time(x, pos)


def interpolate_time(x: Tensor, pos: Tensor) -> Tensor:
    """Linear interpolation of every lead of sample b at the positions ``pos[b]``.

    One ``grid_sample`` call: the leads are its channels, so each position is located once
    and applied to all leads (a 1-D index gather of (batch x leads x n) scattered elements was
    4-10x slower on CPU once the batch exceeds the cache; see ``benchmarks/README.md``).
    Positions go through grid_sample's normalised [-1, 1] coordinates in the signal's
    precision, so in float32 a position is exact to about 1e-7 x ``time`` samples.

    Args:
        x: (batch, leads, time), floating point.
        pos: (batch, n) fractional sample positions, within ``[0, time - 1]``.

    Returns:
        (batch, leads, n), in the dtype of ``x``.
    """
    b, n_leads, t = x.shape
    if t < 2:
        return x.expand(b, n_leads, pos.shape[1]).clone()
    work = x if x.dtype in (torch.float32, torch.float64) else x.float()
    grid = torch.zeros((b, 1, pos.shape[1], 2), dtype=work.dtype, device=x.device)
    grid[..., 0] = (pos.to(work.dtype) * (2.0 / (t - 1)) - 1.0)[:, None, :]
    out = F.grid_sample(
        work[:, :, None, :], grid, mode="bilinear", padding_mode="border", align_corners=True
    )
    return out[:, :, 0, :].to(x.dtype)


@AUGMENTATIONS.register("random_crop", "crop")
class RandomCrop(Augmentation):
    """Cut a random window of fixed duration; all leads of a sample share the window.

    Simulates that an ECG record's start is arbitrary with respect to the cardiac cycle and
    lets SSL views show different beats of one recording.

    Args:
        seconds: Window duration in seconds.
    """

    changes_length = True

    def __init__(self, seconds: float = 2.5) -> None:
        self.seconds = _check_seconds(seconds, "seconds")

    def min_length(self, fs: float) -> int:
        return _samples(self.seconds, fs)

    def apply(self, x: Tensor, fs: float, generator: torch.Generator | None) -> Tensor:
        n = _samples(self.seconds, fs)
        t = x.shape[-1]
        if t < n:
            raise _too_short("RandomCrop", t, n, fs)
        start = randint(0, t - n, (x.shape[0],), generator, x.device)
        windows = x.unfold(-1, n, 1)  # (B, L, t - n + 1, n), a view
        return windows[torch.arange(x.shape[0], device=x.device), :, start]


@AUGMENTATIONS.register("random_resized_crop", "resized_crop")
class RandomResizedCrop(Augmentation):
    """Cut a random fraction of the record and resample it to a fixed length.

    All leads of a sample share the window. Because the window is stretched back to the output
    length, this also changes the apparent heart rate by up to ``1 / scale[0]``; keep
    ``scale`` close to 1 when rate is diagnostic. Used by BELL's sibling methods (crop 50–100 %
    resampled to full length).

    Args:
        scale: (min, max) fraction of the input length kept, in (0, 1].
        seconds: Output duration; ``None`` keeps the input length.
    """

    changes_length = True

    def __init__(self, scale: tuple[float, float] = (0.5, 1.0), seconds: float | None = None):
        self.scale = check_range_pair(scale, "scale", 1e-3, 1.0)
        self.seconds = None if seconds is None else _check_seconds(seconds, "seconds")

    def min_length(self, fs: float) -> int:
        return 2 if self.seconds is None else max(2, _samples(self.seconds, fs))

    def apply(self, x: Tensor, fs: float, generator: torch.Generator | None) -> Tensor:
        t = x.shape[-1]
        out_len = t if self.seconds is None else _samples(self.seconds, fs)
        if t < self.min_length(fs):
            raise _too_short("RandomResizedCrop", t, self.min_length(fs), fs)
        b = x.shape[0]
        length = (uniform(*self.scale, (b,), generator, x.device) * t).clamp(2, t)
        start = rand((b,), generator, x.device) * (t - length)
        return resample_windows(x, start, length, out_len)


@AUGMENTATIONS.register("time_shift", "shift")
class TimeShift(Augmentation):
    """Shift the signal in time by up to ``max_shift`` seconds (all leads together).

    Simulates a different record onset. ``mode="circular"`` wraps around (keeps every sample);
    ``mode="zeros"`` pads the vacated part with zeros (a flat line, as an electrode that has not
    settled yet).

    Args:
        max_shift: Largest shift in seconds, in either direction.
        mode: ``"circular"`` or ``"zeros"``.
    """

    def __init__(self, max_shift: float = 0.5, mode: str = "circular") -> None:
        self.max_shift = check_in_range(max_shift, "max_shift", 0.0, _MAX_SECONDS)
        if mode not in ("circular", "zeros"):
            raise InvalidValueError(f"mode must be 'circular' or 'zeros', got {mode!r}")
        self.mode = mode

    def apply(self, x: Tensor, fs: float, generator: torch.Generator | None) -> Tensor:
        t = x.shape[-1]
        m = min(_samples(self.max_shift, fs), t - 1) if self.max_shift > 0 else 0
        shift = randint(0, 2 * m, (x.shape[0],), generator, x.device) - m
        src = torch.arange(t, device=x.device)[None, :] - shift[:, None]
        valid = (src >= 0) & (src < t)
        src = src % t
        out = torch.gather(x, 2, src[:, None, :].expand(-1, x.shape[1], -1))
        if self.mode == "zeros":
            out = out * valid[:, None, :].to(x.dtype)
        return out


@AUGMENTATIONS.register("time_warp", "time_stretch")
class TimeWarp(Augmentation):
    """Smooth random time warping: the local playback speed varies along the record.

    The local rate is ``1 + a * sin(2 pi f t + phi)`` with ``a`` up to ``max_rate_change``,
    integrated into a monotone time map and applied to all leads with linear interpolation.
    Simulates heart-rate variability within a record (RR intervals stretching and shrinking)
    while keeping the record length.

    Args:
        max_rate_change: Largest relative speed change (0.1 = +/-10 %), in [0, 0.9].
        cycles: (min, max) number of slow speed oscillations over the record.
    """

    def __init__(self, max_rate_change: float = 0.1, cycles: tuple[float, float] = (0.5, 2.0)):
        if not 0 <= max_rate_change <= 0.9:
            raise InvalidValueError(f"max_rate_change must lie in [0, 0.9], got {max_rate_change}")
        self.max_rate_change = float(max_rate_change)
        self.cycles = check_range_pair(cycles, "cycles", 0.0, 1e3)

    def apply(self, x: Tensor, fs: float, generator: torch.Generator | None) -> Tensor:
        b, _, t = x.shape
        if t < 2:
            return x
        amp = uniform(-self.max_rate_change, self.max_rate_change, (b, 1), generator, x.device)
        cyc = uniform(*self.cycles, (b, 1), generator, x.device)
        phase = uniform(0.0, 2 * torch.pi, (b, 1), generator, x.device)
        u = torch.linspace(0, 1, t, device=x.device)[None, :]
        rate = 1 + amp * torch.sin(2 * torch.pi * cyc * u + phase)
        pos = torch.cumsum(rate, dim=1) - rate[:, :1]
        pos = pos / pos[:, -1:].clamp_min(1e-6) * (t - 1)  # monotone map onto [0, t-1]
        return interpolate_time(x, pos.clamp(0, t - 1))
