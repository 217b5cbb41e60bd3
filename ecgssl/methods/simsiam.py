"""SimSiam: simple Siamese networks with a stop-gradient (Chen & He, CVPR 2021)."""

from __future__ import annotations

import torch
from torch import Tensor

from ecgssl.encoders.base import Encoder
from ecgssl.methods.base import SSLMethod
from ecgssl.methods.heads import MLPHead
from ecgssl.methods.losses import negative_cosine_loss
from ecgssl.registry import METHODS

__all__ = ["SimSiam"]


@METHODS.register("simsiam")
class SimSiam(SSLMethod):
    """SimSiam on the encoder's flat representation: BYOL without the EMA target.

    encoder -> projector f (3 layers, batch-normalised output) -> predictor h (bottleneck);
    loss ``D(p1, sg(z2)) / 2 + D(p2, sg(z1)) / 2`` with ``D`` the negative cosine
    (:func:`ecgssl.methods.losses.negative_cosine_loss`). The stop-gradient alone prevents
    collapse.

    Args:
        encoder: Encoder to pretrain (any registered encoder).
        proj_hidden_dim: Projector hidden units (paper: 2048).
        proj_dim: Projection size (paper: 2048).
        pred_hidden_dim: Predictor bottleneck (paper: 512).
    """

    name = "simsiam"

    def __init__(
        self,
        encoder: Encoder,
        proj_hidden_dim: int = 2048,
        proj_dim: int = 2048,
        pred_hidden_dim: int = 512,
    ) -> None:
        super().__init__(encoder)
        self._forget_momentum()
        self._remember(
            proj_hidden_dim=proj_hidden_dim, proj_dim=proj_dim, pred_hidden_dim=pred_hidden_dim
        )
        self.projector = MLPHead(
            encoder.output_dim, proj_hidden_dim, proj_dim, num_layers=3, last_bn=True
        )
        self.predictor = MLPHead(proj_dim, pred_hidden_dim, proj_dim)

    def training_step(self, view1: Tensor, view2: Tensor) -> dict[str, Tensor]:
        b = view1.shape[0]
        z = self.projector(self.encoder(torch.cat([view1, view2])))
        p = self.predictor(z)
        z = z.detach()
        loss = (negative_cosine_loss(p[:b], z[b:]) + negative_cosine_loss(p[b:], z[:b])) / 2
        return {"loss": loss}
