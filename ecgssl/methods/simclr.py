"""SimCLR: contrastive learning with the NT-Xent loss (Chen et al., ICML 2020)."""

from __future__ import annotations

import torch
from torch import Tensor

from ecgssl.encoders.base import Encoder
from ecgssl.methods.base import SSLMethod
from ecgssl.methods.gather import gather_with_grad
from ecgssl.methods.heads import MLPHead
from ecgssl.methods.losses import nt_xent_loss
from ecgssl.registry import METHODS
from ecgssl.validation import check_positive

__all__ = ["SimCLR"]


@METHODS.register("simclr")
class SimCLR(SSLMethod):
    """SimCLR on the encoder's flat representation; no EMA target.

    Each sample's other view is its positive and the other 2N - 2 views in the batch are
    negatives. In a distributed run the projections of all ranks are gathered (with
    gradients), so N is the global batch and the loss and gradients equal a one-process run's.

    Args:
        encoder: Encoder to pretrain (any registered encoder).
        proj_hidden_dim: Projector hidden units.
        proj_dim: Projection size.
        temperature: NT-Xent temperature (> 0); SimCLR used 0.1–0.5, 0.1 is common for ECG.
    """

    name = "simclr"

    def __init__(
        self,
        encoder: Encoder,
        proj_hidden_dim: int = 512,
        proj_dim: int = 128,
        temperature: float = 0.1,
    ) -> None:
        super().__init__(encoder)
        check_positive(temperature, "temperature")
        self.temperature = float(temperature)
        self._forget_momentum()
        self._remember(proj_hidden_dim=proj_hidden_dim, proj_dim=proj_dim, temperature=temperature)
        self.projector = MLPHead(encoder.output_dim, proj_hidden_dim, proj_dim)

    def training_step(self, view1: Tensor, view2: Tensor) -> dict[str, Tensor]:
        b = view1.shape[0]
        z = self.projector(self.encoder(torch.cat([view1, view2])))
        loss = nt_xent_loss(gather_with_grad(z[:b]), gather_with_grad(z[b:]), self.temperature)
        return {"loss": loss}
