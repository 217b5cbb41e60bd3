"""Amplitude augmentations: gain, polarity and DC offset."""

from __future__ import annotations

import torch
from torch import Tensor

from ecgssl.augment.base import (
    ElementwiseAugmentation,
    MaskFn,
    add_,
    masked_gain,
    masked_level,
    rand,
    scale_,
    uniform,
)
from ecgssl.registry import AUGMENTATIONS
from ecgssl.validation import check_in_range, check_range_pair

__all__ = ["AmplitudeScale", "BaselineShift", "SignInversion"]


@AUGMENTATIONS.register("amplitude_scale", "scale")
class AmplitudeScale(ElementwiseAugmentation):
    """Multiply by a random gain per sample (and optionally per lead).

    Simulates differences in amplifier gain, body habitus and electrode-skin contact, which
    change ECG amplitudes without changing the diagnosis (voltage criteria aside).

    Args:
        scale: (min, max) gain.
        per_lead: Draw an independent gain for each lead.
    """

    def __init__(self, scale: tuple[float, float] = (0.8, 1.25), per_lead: bool = False) -> None:
        self.scale = check_range_pair(scale, "scale", 0.0, 1e3)
        self.per_lead = bool(per_lead)

    def transform(
        self,
        x: Tensor,
        fs: float,
        generator: torch.Generator | None,
        draw_mask: MaskFn | None,
        inplace: bool,
    ) -> Tensor:
        shape = (x.shape[0], x.shape[1] if self.per_lead else 1, 1)
        gain = uniform(*self.scale, shape, generator, x.device).to(x.dtype)
        return scale_(x, masked_gain(gain, draw_mask), inplace)


@AUGMENTATIONS.register("sign_inversion", "flip", "invert")
class SignInversion(ElementwiseAugmentation):
    """Invert the polarity (x -> -x) of a sample with probability ``p``.

    Simulates swapped electrode polarity. Note that polarity is diagnostic in real ECGs
    (inverted T waves, aVR); use with care for morphology tasks.

    Args:
        p: Per-sample probability of inversion.
    """

    def __init__(self, p: float = 0.5) -> None:
        self.p = check_in_range(p, "p", 0.0, 1.0)

    def transform(
        self,
        x: Tensor,
        fs: float,
        generator: torch.Generator | None,
        draw_mask: MaskFn | None,
        inplace: bool,
    ) -> Tensor:
        flip = rand((x.shape[0], 1, 1), generator, x.device) < self.p
        if draw_mask is not None:
            flip = flip & draw_mask()
        sign = torch.where(flip, -1.0, 1.0).to(x.dtype)
        return scale_(x, sign, inplace)


@AUGMENTATIONS.register("baseline_shift", "dc_offset")
class BaselineShift(ElementwiseAugmentation):
    """Add a constant offset of up to ``max_mv`` millivolts per sample (and per lead).

    Simulates an electrode offset potential / DC drift not removed by the amplifier.

    Args:
        max_mv: Largest absolute offset in mV.
        per_lead: Draw an independent offset for each lead.
    """

    def __init__(self, max_mv: float = 0.5, per_lead: bool = True) -> None:
        self.max_mv = check_in_range(max_mv, "max_mv", 0.0, 1e3)
        self.per_lead = bool(per_lead)

    def transform(
        self,
        x: Tensor,
        fs: float,
        generator: torch.Generator | None,
        draw_mask: MaskFn | None,
        inplace: bool,
    ) -> Tensor:
        shape = (x.shape[0], x.shape[1] if self.per_lead else 1, 1)
        offset = uniform(-self.max_mv, self.max_mv, shape, generator, x.device).to(x.dtype)
        return add_(x, masked_level(offset, draw_mask), inplace)
