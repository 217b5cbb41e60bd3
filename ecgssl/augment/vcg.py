"""Vectorcardiogram (VCG) augmentations for standard 12-lead ECGs (3KG-style).

The eight independent leads (I, II, V1–V6) are mapped to a Frank-like VCG (X, Y, Z) with the
Kors regression matrix (Kors et al., "Reconstruction of the Frank vectorcardiogram from
standard electrocardiographic leads", Eur Heart J 1990;11:1083-1092), rotated and scaled in
3-D, and mapped back with its pseudo-inverse; the limb leads III, aVR, aVL, aVF are then
recomputed from I and II (Einthoven / Goldberger), so the output is a consistent 12-lead ECG.
3KG: Gopal et al., "3KG: Contrastive Learning of 12-Lead Electrocardiograms using
Physiologically-Inspired Augmentations", ML4H 2021.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ecgssl.augment.base import Augmentation, uniform
from ecgssl.errors import InvalidValueError
from ecgssl.registry import AUGMENTATIONS
from ecgssl.validation import check_positive, check_range_pair

__all__ = ["KORS", "VCGRotation", "ecg_to_vcg", "vcg_to_ecg"]

#: Kors regression matrix, rows X, Y, Z; columns I, II, V1, V2, V3, V4, V5, V6.
KORS = (
    (0.38, -0.07, -0.13, 0.05, -0.01, 0.14, 0.06, 0.54),
    (-0.07, 0.93, 0.06, -0.02, -0.05, 0.06, -0.17, 0.13),
    (0.11, -0.23, -0.43, -0.06, -0.14, -0.20, -0.11, 0.31),
)
#: Positions of I, II, V1–V6 in ecgssl's standard lead order.
_INDEPENDENT = (0, 1, 6, 7, 8, 9, 10, 11)


def _kors(x: Tensor) -> Tensor:
    return torch.tensor(KORS, dtype=torch.float32, device=x.device)


def ecg_to_vcg(x: Tensor) -> Tensor:
    """(batch, 12, time) standard-order ECG -> (batch, 3, time) VCG (X, Y, Z)."""
    if x.ndim != 3 or x.shape[1] != 12:
        raise InvalidValueError(
            f"ecg_to_vcg needs (batch, 12, time) in standard order, got {tuple(x.shape)}"
        )
    return torch.einsum("vl,blt->bvt", _kors(x), x[:, list(_INDEPENDENT)].float())


def vcg_to_ecg(v: Tensor) -> Tensor:
    """(batch, 3, time) VCG -> (batch, 12, time) ECG via the Kors pseudo-inverse.

    Leads I, II, V1–V6 come from the pseudo-inverse; III, aVR, aVL and aVF are derived from I
    and II, so Einthoven's and Goldberger's laws hold exactly.
    """
    if v.ndim != 3 or v.shape[1] != 3:
        raise InvalidValueError(f"vcg_to_ecg needs (batch, 3, time), got {tuple(v.shape)}")
    eight = torch.einsum("lv,bvt->blt", torch.linalg.pinv(_kors(v)), v.float())
    lead_i, lead_ii = eight[:, 0], eight[:, 1]
    limb = torch.stack(
        [
            lead_i,
            lead_ii,
            lead_ii - lead_i,  # III
            -(lead_i + lead_ii) / 2,  # aVR
            lead_i - lead_ii / 2,  # aVL
            lead_ii - lead_i / 2,  # aVF
        ],
        dim=1,
    )
    return torch.cat([limb, eight[:, 2:]], dim=1)


def _rotation_matrices(angles: Tensor) -> Tensor:
    """(batch, 3) angles in radians about X, Y, Z -> (batch, 3, 3) rotations Rz @ Ry @ Rx."""
    cx, cy, cz = torch.cos(angles).unbind(1)
    sx, sy, sz = torch.sin(angles).unbind(1)
    one, zero = torch.ones_like(cx), torch.zeros_like(cx)
    rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], 1).view(-1, 3, 3)
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], 1).view(-1, 3, 3)
    rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], 1).view(-1, 3, 3)
    return rz @ ry @ rx


@AUGMENTATIONS.register("vcg_rotation", "vcg", "3kg")
class VCGRotation(Augmentation):
    """Rotate and scale the heart's electrical axis in 3-D (3KG), for 12-lead ECGs.

    Simulates anatomical variation between subjects — heart orientation in the chest (axis
    deviation, rotation about the long axis) and electrode placement — which changes every
    lead's waveform consistently. Requires the standard lead order I, II, III, aVR, aVL, aVF,
    V1–V6. The signal is converted with the Kors matrix, rotated by random angles about each
    axis and scaled per axis, then converted back (8 independent leads by pseudo-inverse, the
    other 4 by Einthoven/Goldberger).

    Args:
        max_angle: Largest rotation about each axis, in degrees (3KG used 45).
        scale: (min, max) scaling of each VCG axis (3KG used 1 to 1.5).
    """

    n_leads = 12

    def __init__(self, max_angle: float = 45.0, scale: tuple[float, float] = (1.0, 1.5)) -> None:
        self.max_angle = check_positive(max_angle, "max_angle", allow_zero=True)
        if self.max_angle > 180:
            raise InvalidValueError(f"max_angle must be <= 180 degrees, got {max_angle}")
        self.scale = check_range_pair(scale, "scale", 1e-3, 1e3)

    def apply(self, x: Tensor, fs: float, generator: torch.Generator | None) -> Tensor:
        b = x.shape[0]
        limit = math.radians(self.max_angle)
        angles = uniform(-limit, limit, (b, 3), generator, x.device)
        scales = uniform(*self.scale, (b, 3), generator, x.device)
        transform = scales[:, :, None] * _rotation_matrices(angles)  # (B, 3, 3)
        vcg = torch.bmm(transform, ecg_to_vcg(x))
        return vcg_to_ecg(vcg).to(x.dtype)
