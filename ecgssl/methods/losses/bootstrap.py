"""Bootstrap losses without negative pairs: BYOL and SimSiam."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ecgssl.errors import InvalidValueError
from ecgssl.methods.losses._precision import float32_loss

__all__ = ["byol_loss", "negative_cosine_loss"]


def _check_pair(a: Tensor, b: Tensor, names: str) -> None:
    if a.shape != b.shape or a.ndim != 2:
        raise InvalidValueError(
            f"{names} must both be (batch, dim), got {tuple(a.shape)}, {tuple(b.shape)}"
        )


@float32_loss
def byol_loss(p: Tensor, z: Tensor) -> Tensor:
    """BYOL's normalised MSE, ``mean(2 - 2 cos(p, z))`` (Grill et al., NeurIPS 2020).

    Args:
        p: Online predictions (batch, dim).
        z: Target projections (batch, dim); gradients are not blocked here, detach first.

    Returns:
        Scalar loss in [0, 4].
    """
    _check_pair(p, z, "p and z")
    return (2 - 2 * F.cosine_similarity(p, z, dim=-1)).mean()


@float32_loss
def negative_cosine_loss(p: Tensor, z: Tensor) -> Tensor:
    """SimSiam's ``D(p, z) = -mean(cos(p, z))`` (Chen & He, "Exploring Simple Siamese
    Representation Learning", CVPR 2021, Eq. 1).

    SimSiam applies it symmetrically with a stop-gradient on the target branch:
    ``L = D(p1, sg(z2)) / 2 + D(p2, sg(z1)) / 2``. Up to the affine map ``2 + 2 D`` it is
    :func:`byol_loss`; it is kept separate so the reported values match the paper's.

    Args:
        p: Predictions (batch, dim).
        z: Projections of the other view (batch, dim); detach them before calling.

    Returns:
        Scalar loss in [-1, 1].
    """
    _check_pair(p, z, "p and z")
    return -F.cosine_similarity(p, z, dim=-1).mean()
