"""BYOL: Bootstrap Your Own Latent (Grill et al., NeurIPS 2020)."""

from __future__ import annotations

import torch
from torch import Tensor

from ecgssl.encoders.base import Encoder
from ecgssl.methods.base import SSLMethod
from ecgssl.methods.heads import MLPHead
from ecgssl.methods.losses import byol_loss
from ecgssl.registry import METHODS

__all__ = ["BYOL"]


@METHODS.register("byol")
class BYOL(SSLMethod):
    """BYOL on the encoder's flat representation.

    online: encoder -> projector -> predictor; target: EMA(encoder) -> EMA(projector).
    Loss: ``byol_loss(p1, sg(z2)) + byol_loss(p2, sg(z1))`` (symmetrised).

    Args:
        encoder: Online encoder (any registered encoder).
        proj_hidden_dim: Projector hidden units.
        proj_dim: Projection size.
        pred_hidden_dim: Predictor hidden units.
        base_momentum: EMA momentum at the start (BYOL: 0.996).
        final_momentum: EMA momentum at the end (BYOL: 1.0).
        momentum_schedule: ``"cosine"`` or ``"constant"``.
    """

    name = "byol"

    def __init__(
        self,
        encoder: Encoder,
        proj_hidden_dim: int = 512,
        proj_dim: int = 128,
        pred_hidden_dim: int = 512,
        base_momentum: float = 0.996,
        final_momentum: float = 1.0,
        momentum_schedule: str = "cosine",
    ) -> None:
        super().__init__(encoder, base_momentum, final_momentum, momentum_schedule)
        self._remember(
            proj_hidden_dim=proj_hidden_dim, proj_dim=proj_dim, pred_hidden_dim=pred_hidden_dim
        )
        self.projector = MLPHead(encoder.output_dim, proj_hidden_dim, proj_dim)
        self.predictor = MLPHead(proj_dim, pred_hidden_dim, proj_dim)
        self.target_encoder = self.add_momentum_pair(self.encoder)
        self.target_projector = self.add_momentum_pair(self.projector)

    def training_step(self, view1: Tensor, view2: Tensor) -> dict[str, Tensor]:
        b = view1.shape[0]
        both = torch.cat([view1, view2])
        p = self.predictor(self.projector(self.encoder(both)))
        with torch.no_grad():
            z = self.target_projector(self.target_encoder(both))
        p1, p2 = p[:b], p[b:]
        z1, z2 = z[:b], z[b:]
        loss = byol_loss(p1, z2) + byol_loss(p2, z1)
        return {"loss": loss}
