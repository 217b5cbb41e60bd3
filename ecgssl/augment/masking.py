"""Masking augmentations: time-out segments and dropped leads."""

from __future__ import annotations

import torch
from torch import Tensor

from ecgssl.augment.base import ElementwiseAugmentation, MaskFn, rand, scale_, uniform
from ecgssl.errors import InvalidValueError
from ecgssl.registry import AUGMENTATIONS
from ecgssl.validation import check_in_range, check_range_pair

__all__ = ["LeadMask", "TimeMask"]


@AUGMENTATIONS.register("time_mask", "time_out", "timeout")
class TimeMask(ElementwiseAugmentation):
    """Zero a random contiguous segment, the same segment in every lead of a sample.

    Simulates a temporary loss of signal (saturated amplifier, lifted electrodes, a gap in
    the recording) and forces the encoder to use the whole record. This is the "time-out"
    augmentation of BELL's sibling methods (0–50 % of the record).

    Args:
        fraction: (min, max) fraction of the record zeroed, within [0, 1].
    """

    def __init__(self, fraction: tuple[float, float] = (0.0, 0.5)) -> None:
        self.fraction = check_range_pair(fraction, "fraction", 0.0, 1.0)

    def transform(
        self,
        x: Tensor,
        fs: float,
        generator: torch.Generator | None,
        draw_mask: MaskFn | None,
        inplace: bool,
    ) -> Tensor:
        b, _, t = x.shape
        length = (uniform(*self.fraction, (b, 1), generator, x.device) * t).round()
        start = (rand((b, 1), generator, x.device) * (t - length + 1)).floor()
        pos = torch.arange(t, device=x.device)[None, :]
        keep = (pos < start) | (pos >= start + length)
        if draw_mask is not None:
            keep = keep | ~draw_mask()[:, 0]
        return scale_(x, keep[:, None, :].to(x.dtype), inplace)


@AUGMENTATIONS.register("lead_mask", "lead_dropout")
class LeadMask(ElementwiseAugmentation):
    """Zero each lead independently with probability ``p``; never all leads of a sample.

    Simulates disconnected or missing electrodes and reduced-lead recordings, and teaches the
    encoder not to depend on any single lead.

    Args:
        p: Per-lead masking probability in [0, 1).
    """

    def __init__(self, p: float = 0.2) -> None:
        check_in_range(p, "p", 0.0, 1.0)
        if p >= 1.0:
            raise InvalidValueError(f"p must be < 1 so that some lead survives, got {p}")
        self.p = float(p)

    def transform(
        self,
        x: Tensor,
        fs: float,
        generator: torch.Generator | None,
        draw_mask: MaskFn | None,
        inplace: bool,
    ) -> Tensor:
        b, n_leads, _ = x.shape
        u = rand((b, n_leads), generator, x.device)
        mask = u < self.p
        # Keep the lead with the largest draw wherever every lead would be masked.
        all_masked = mask.all(dim=1, keepdim=True)
        keep_one = torch.zeros_like(mask).scatter_(1, u.argmax(dim=1, keepdim=True), True)
        mask = mask & ~(all_masked & keep_one)
        if draw_mask is not None:
            mask = mask & draw_mask()[:, :, 0]
        return scale_(x, (~mask)[:, :, None].to(x.dtype), inplace)
