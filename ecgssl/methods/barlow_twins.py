"""Barlow Twins: redundancy reduction (Zbontar, Jing, Misra, LeCun & Deny, ICML 2021)."""

from __future__ import annotations

import torch
from torch import Tensor

from ecgssl.encoders.base import Encoder
from ecgssl.methods.base import SSLMethod
from ecgssl.methods.gather import gather_with_grad
from ecgssl.methods.heads import MLPHead
from ecgssl.methods.losses import barlow_twins_loss
from ecgssl.registry import METHODS
from ecgssl.validation import check_positive

__all__ = ["BarlowTwins"]


@METHODS.register("barlow_twins", "barlowtwins")
class BarlowTwins(SSLMethod):
    """Barlow Twins on the encoder's flat representation; no EMA target, no negatives.

    The cross-correlation of the two views' batch-standardised projections is pushed towards
    the identity (:func:`ecgssl.methods.losses.barlow_twins_loss`).

    Args:
        encoder: Encoder to pretrain (any registered encoder).
        proj_hidden_dim: Projector hidden units (paper: 8192; 2048 here, sized for ECG
            encoders).
        proj_dim: Projector output size (paper: 8192; 2048 here).
        lambd: Weight of the off-diagonal term (paper: 0.0051).
    """

    name = "barlow_twins"

    def __init__(
        self,
        encoder: Encoder,
        proj_hidden_dim: int = 2048,
        proj_dim: int = 2048,
        lambd: float = 0.0051,
    ) -> None:
        super().__init__(encoder)
        check_positive(lambd, "lambd")
        self._forget_momentum()
        self._remember(proj_hidden_dim=proj_hidden_dim, proj_dim=proj_dim, lambd=lambd)
        self.lambd = float(lambd)
        self.projector = MLPHead(encoder.output_dim, proj_hidden_dim, proj_dim, num_layers=3)

    def training_step(self, view1: Tensor, view2: Tensor) -> dict[str, Tensor]:
        b = view1.shape[0]
        z = self.projector(self.encoder(torch.cat([view1, view2])))
        z1, z2 = gather_with_grad(z[:b]), gather_with_grad(z[b:])  # global batch statistics
        return {"loss": barlow_twins_loss(z1, z2, self.lambd)}
