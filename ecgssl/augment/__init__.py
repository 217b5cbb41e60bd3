"""Batched ECG augmentations on (batch, leads, time) tensors; see ``AUGMENTATIONS``."""

from ecgssl.augment.amplitude import AmplitudeScale, BaselineShift, SignInversion
from ecgssl.augment.base import (
    Augmentation,
    Compose,
    ElementwiseAugmentation,
    OneOf,
    RandomApply,
    TwoViews,
    build_augmentation,
)
from ecgssl.augment.crop import (
    RandomCrop,
    RandomResizedCrop,
    TimeShift,
    TimeWarp,
    interpolate_time,
    resample_windows,
)
from ecgssl.augment.filters import BandPass, LowPass, fft_filter
from ecgssl.augment.masking import LeadMask, TimeMask
from ecgssl.augment.noise import BaselineWander, EMGNoise, GaussianNoise, PowerlineNoise
from ecgssl.augment.policies import STRENGTHS, ssl_policy
from ecgssl.augment.vcg import VCGRotation, ecg_to_vcg, vcg_to_ecg

__all__ = [
    "STRENGTHS",
    "AmplitudeScale",
    "Augmentation",
    "BandPass",
    "BaselineShift",
    "BaselineWander",
    "Compose",
    "EMGNoise",
    "ElementwiseAugmentation",
    "GaussianNoise",
    "LeadMask",
    "LowPass",
    "OneOf",
    "PowerlineNoise",
    "RandomApply",
    "RandomCrop",
    "RandomResizedCrop",
    "SignInversion",
    "TimeMask",
    "TimeShift",
    "TimeWarp",
    "TwoViews",
    "VCGRotation",
    "build_augmentation",
    "ecg_to_vcg",
    "fft_filter",
    "interpolate_time",
    "resample_windows",
    "ssl_policy",
    "vcg_to_ecg",
]
