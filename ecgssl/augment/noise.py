"""Additive noise augmentations that mimic real ECG artefacts."""

from __future__ import annotations

import torch
from torch import Tensor

from ecgssl.augment.base import (
    ElementwiseAugmentation,
    MaskFn,
    add_,
    addcmul_,
    masked_level,
    rand,
    randn,
    uniform,
)
from ecgssl.augment.filters import fft_filter
from ecgssl.errors import InvalidValueError
from ecgssl.registry import AUGMENTATIONS
from ecgssl.validation import check_int, check_range_pair

__all__ = ["BaselineWander", "EMGNoise", "GaussianNoise", "PowerlineNoise"]


def _time(x: Tensor, fs: float) -> Tensor:
    return (torch.arange(x.shape[-1], device=x.device, dtype=torch.float32) / fs)[None, None, :]


@AUGMENTATIONS.register("gaussian_noise", "noise")
class GaussianNoise(ElementwiseAugmentation):
    """Add white Gaussian noise with a per-sample standard deviation in mV (or an SNR).

    Simulates thermal/amplifier noise and quantisation.

    Args:
        sigma_mv: (min, max) noise standard deviation in mV.
        snr_db: If given, (min, max) signal-to-noise ratio in dB relative to each lead's
            power; overrides ``sigma_mv``.
    """

    def __init__(
        self, sigma_mv: tuple[float, float] = (0.0, 0.05), snr_db: tuple[float, float] | None = None
    ) -> None:
        self.sigma_mv = check_range_pair(sigma_mv, "sigma_mv", 0.0, 1e3)
        self.snr_db = None if snr_db is None else check_range_pair(snr_db, "snr_db", -100, 200)

    def transform(
        self,
        x: Tensor,
        fs: float,
        generator: torch.Generator | None,
        draw_mask: MaskFn | None,
        inplace: bool,
    ) -> Tensor:
        b, _n_leads, t = x.shape
        if self.snr_db is None:
            sigma = uniform(*self.sigma_mv, (b, 1, 1), generator, x.device)
        else:
            snr = uniform(*self.snr_db, (b, 1, 1), generator, x.device)
            # RMS per lead in one pass (vector_norm), then sigma = RMS / 10^(SNR / 20).
            rms = torch.linalg.vector_norm(x.float(), dim=-1, keepdim=True) / t**0.5
            sigma = rms * 10 ** (-snr / 20)
        noise = randn(x.shape, generator, x.device).to(x.dtype)
        return addcmul_(x, masked_level(sigma, draw_mask).to(x.dtype), noise, inplace)


@AUGMENTATIONS.register("baseline_wander", "wander")
class BaselineWander(ElementwiseAugmentation):
    """Add slow baseline wander: a few sinusoids between 0.05 and 0.5 Hz.

    Simulates respiration and electrode/body movement. The wander is shared across leads with
    a random gain per lead (leads see the same breathing differently).

    Args:
        amplitude_mv: (min, max) peak amplitude in mV of each component.
        frequency_hz: (min, max) component frequency in Hz.
        n_components: Number of sinusoids summed.
    """

    def __init__(
        self,
        amplitude_mv: tuple[float, float] = (0.0, 0.3),
        frequency_hz: tuple[float, float] = (0.05, 0.5),
        n_components: int = 2,
    ) -> None:
        self.amplitude_mv = check_range_pair(amplitude_mv, "amplitude_mv", 0.0, 1e3)
        self.frequency_hz = check_range_pair(frequency_hz, "frequency_hz", 0.0, 1e3)
        self.n_components = check_int(n_components, "n_components", 1, 64)

    def transform(
        self,
        x: Tensor,
        fs: float,
        generator: torch.Generator | None,
        draw_mask: MaskFn | None,
        inplace: bool,
    ) -> Tensor:
        b, n_leads, _ = x.shape
        k = self.n_components
        t = _time(x, fs)[..., None]  # (1, 1, T, 1)
        amp = uniform(*self.amplitude_mv, (b, 1, 1, k), generator, x.device)
        freq = uniform(*self.frequency_hz, (b, 1, 1, k), generator, x.device)
        phase = uniform(0.0, 2 * torch.pi, (b, 1, 1, k), generator, x.device)
        wave = (amp * torch.sin(2 * torch.pi * freq * t + phase)).sum(-1)  # (B, 1, T)
        gain = uniform(0.5, 1.0, (b, n_leads, 1), generator, x.device)
        return addcmul_(x, wave.to(x.dtype), masked_level(gain, draw_mask).to(x.dtype), inplace)


@AUGMENTATIONS.register("powerline_noise", "powerline")
class PowerlineNoise(ElementwiseAugmentation):
    """Add mains interference at 50 or 60 Hz (and optional harmonics).

    Simulates powerline pickup from unshielded cables. Components at or above the Nyquist
    frequency ``fs / 2`` are skipped, as a recorder's anti-aliasing filter would remove them:
    at 100 Hz this augmentation adds nothing (50 Hz is the Nyquist frequency); it is meant for
    data sampled at 125 Hz and above.

    Args:
        frequency: 50, 60, or ``"random"`` (50 or 60 Hz drawn per sample).
        amplitude_mv: (min, max) amplitude in mV of the fundamental.
        harmonics: Number of harmonics added with amplitude 1 / k.
    """

    def __init__(
        self,
        frequency: float | str = "random",
        amplitude_mv: tuple[float, float] = (0.0, 0.1),
        harmonics: int = 1,
    ) -> None:
        if frequency not in (50, 60, "random"):
            raise InvalidValueError(f"frequency must be 50, 60 or 'random', got {frequency!r}")
        self.frequency = frequency
        self.amplitude_mv = check_range_pair(amplitude_mv, "amplitude_mv", 0.0, 1e3)
        self.harmonics = check_int(harmonics, "harmonics", 0, 20)

    def transform(
        self,
        x: Tensor,
        fs: float,
        generator: torch.Generator | None,
        draw_mask: MaskFn | None,
        inplace: bool,
    ) -> Tensor:
        b, n_leads, _ = x.shape
        if self.frequency == "random":
            base = torch.where(rand((b, 1, 1), generator, x.device) < 0.5, 50.0, 60.0)
        else:
            base = torch.full((b, 1, 1), float(self.frequency), device=x.device)
        amp = uniform(*self.amplitude_mv, (b, n_leads, 1), generator, x.device)
        phase = uniform(0.0, 2 * torch.pi, (b, 1, 1), generator, x.device)
        amp = masked_level(amp, draw_mask)
        t = _time(x, fs)
        noise = torch.zeros_like(x, dtype=torch.float32)
        for k in range(1, self.harmonics + 2):  # fundamental + harmonics (a fixed few)
            f = base * k
            below = (f < fs / 2).float()
            noise = noise + below * amp / k * torch.sin(2 * torch.pi * f * t + k * phase)
        return add_(x, noise.to(x.dtype), inplace)


@AUGMENTATIONS.register("emg_noise", "muscle_noise")
class EMGNoise(ElementwiseAugmentation):
    """Add muscle (EMG) noise: white noise band-limited to 20–150 Hz (capped at Nyquist).

    Simulates skeletal-muscle activity (shivering, tense patients, exercise ECGs), which
    overlaps the QRS spectrum and is independent between leads.

    Args:
        amplitude_mv: (min, max) RMS amplitude in mV.
        band_hz: (low, high) band of the noise in Hz.
    """

    def __init__(
        self,
        amplitude_mv: tuple[float, float] = (0.0, 0.05),
        band_hz: tuple[float, float] = (20.0, 150.0),
    ) -> None:
        self.amplitude_mv = check_range_pair(amplitude_mv, "amplitude_mv", 0.0, 1e3)
        self.band_hz = check_range_pair(band_hz, "band_hz", 0.0, 1e4)

    def transform(
        self,
        x: Tensor,
        fs: float,
        generator: torch.Generator | None,
        draw_mask: MaskFn | None,
        inplace: bool,
    ) -> Tensor:
        b, n_leads, _ = x.shape
        white = randn(x.shape, generator, x.device)
        high = min(self.band_hz[1], 0.49 * fs)
        low = min(self.band_hz[0], 0.5 * high)
        noise = fft_filter(white, fs, low, high, order=4)
        rms = noise.pow(2).mean(dim=-1, keepdim=True).sqrt().clamp_min(1e-8)
        amp = masked_level(
            uniform(*self.amplitude_mv, (b, n_leads, 1), generator, x.device), draw_mask
        )
        return add_(x, (noise / rms * amp).to(x.dtype), inplace)
