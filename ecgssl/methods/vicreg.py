"""VICReg: Variance-Invariance-Covariance Regularization (Bardes, Ponce & LeCun, ICLR 2022)."""

from __future__ import annotations

import torch
from torch import Tensor

from ecgssl.encoders.base import Encoder
from ecgssl.methods.base import SSLMethod
from ecgssl.methods.gather import gather_with_grad
from ecgssl.methods.heads import MLPHead
from ecgssl.methods.losses import vicreg_loss
from ecgssl.registry import METHODS
from ecgssl.validation import check_positive

__all__ = ["VICReg"]


@METHODS.register("vicreg")
class VICReg(SSLMethod):
    """VICReg on the encoder's flat representation; no EMA target, no negatives.

    Both views go through the same encoder and 3-layer expander; the loss keeps each embedding
    dimension's standard deviation above ``gamma`` (variance), decorrelates dimensions
    (covariance) and pulls the two views together (invariance), see
    :func:`ecgssl.methods.losses.vicreg_loss`.

    Args:
        encoder: Encoder to pretrain (any registered encoder).
        proj_hidden_dim: Expander hidden units (paper: 8192; 2048 here, sized for ECG encoders).
        proj_dim: Expander output size (paper: 8192; 2048 here).
        sim_weight: lambda, invariance weight (paper: 25).
        var_weight: mu, variance weight (paper: 25).
        cov_weight: nu, covariance weight (paper: 1).
        gamma: Target standard deviation per dimension (paper: 1).
        eps: Stabiliser of the standard deviation (paper: 1e-4).
    """

    name = "vicreg"

    def __init__(
        self,
        encoder: Encoder,
        proj_hidden_dim: int = 2048,
        proj_dim: int = 2048,
        sim_weight: float = 25.0,
        var_weight: float = 25.0,
        cov_weight: float = 1.0,
        gamma: float = 1.0,
        eps: float = 1e-4,
    ) -> None:
        super().__init__(encoder)
        for name, value in (
            ("sim_weight", sim_weight), ("var_weight", var_weight), ("cov_weight", cov_weight),
        ):  # fmt: skip
            check_positive(value, name, allow_zero=True)
        check_positive(gamma, "gamma")
        check_positive(eps, "eps")
        self._forget_momentum()
        self._remember(
            proj_hidden_dim=proj_hidden_dim, proj_dim=proj_dim, sim_weight=sim_weight,
            var_weight=var_weight, cov_weight=cov_weight, gamma=gamma, eps=eps,
        )  # fmt: skip
        self.weights = (float(sim_weight), float(var_weight), float(cov_weight))
        self.gamma, self.eps = float(gamma), float(eps)
        self.projector = MLPHead(encoder.output_dim, proj_hidden_dim, proj_dim, num_layers=3)

    def training_step(self, view1: Tensor, view2: Tensor) -> dict[str, Tensor]:
        b = view1.shape[0]
        z = self.projector(self.encoder(torch.cat([view1, view2])))
        z1, z2 = gather_with_grad(z[:b]), gather_with_grad(z[b:])  # global batch statistics
        loss, inv, var, cov = vicreg_loss(z1, z2, *self.weights, self.gamma, self.eps)
        return {
            "loss": loss,
            "invariance": inv.detach(),
            "variance": var.detach(),
            "covariance": cov.detach(),
        }
