"""Named SSL view pipelines (the augmentation policy shared by every method)."""

from __future__ import annotations

from ecgssl.augment.amplitude import AmplitudeScale, BaselineShift
from ecgssl.augment.base import Augmentation, Compose, RandomApply
from ecgssl.augment.crop import RandomCrop, TimeWarp
from ecgssl.augment.masking import TimeMask
from ecgssl.augment.noise import BaselineWander, EMGNoise, GaussianNoise
from ecgssl.errors import InvalidValueError

__all__ = ["STRENGTHS", "ssl_policy"]

STRENGTHS = ("weak", "default", "strong")


def ssl_policy(window_seconds: float | None = 2.5, strength: str = "default") -> Compose:
    """The default view pipeline for ECG SSL; every op keeps the leads of a view time-aligned.

    ``default``: a random ``window_seconds`` crop (same window for all leads, no change of the
    heart rate), a time-out of 0–50 % of the window (p = 0.5), a random gain of 0.8–1.25,
    Gaussian noise up to 0.05 mV (p = 0.5) and baseline wander up to 0.3 mV (p = 0.5).
    ``weak`` drops the time-out and halves the noise; ``strong`` adds time warping (+/-10 %),
    per-lead DC offsets and muscle noise.

    Args:
        window_seconds: Crop duration; ``None`` keeps whole records (no crop).
        strength: ``"weak"``, ``"default"`` or ``"strong"``.
    """
    if strength not in STRENGTHS:
        raise InvalidValueError(f"strength must be one of {STRENGTHS}, got {strength!r}")
    ops: list[Augmentation] = []
    if window_seconds is not None:
        ops.append(RandomCrop(window_seconds))
    noise = 0.025 if strength == "weak" else 0.05
    if strength != "weak":
        ops.append(RandomApply(TimeMask((0.0, 0.5)), p=0.5))
    if strength == "strong":
        ops.append(RandomApply(TimeWarp(0.1), p=0.5))
    ops += [
        AmplitudeScale((0.8, 1.25)),
        RandomApply(GaussianNoise((0.0, noise)), p=0.5),
        RandomApply(BaselineWander((0.0, 0.3)), p=0.5),
    ]
    if strength == "strong":
        ops += [RandomApply(BaselineShift(0.3), p=0.5), RandomApply(EMGNoise((0.0, 0.05)), p=0.5)]
    return Compose(ops)
