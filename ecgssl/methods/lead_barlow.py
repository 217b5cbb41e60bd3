"""Lead-wise Barlow Twins: BELL's intra-/inter-lead fusion with a Barlow Twins objective.

The Barlow Twins counterpart of BELL, after the same group's Lead-Fusion Barlow Twins (LFBT;
Liu et al., Inf Fusion 2025) and Barlow Twins (Zbontar et al., ICML 2021): every lead's latent
from a multi-branch encoder gets a projector, and the cross-correlation objective is applied
to the same lead of both views (intra-lead) and to different leads (inter-lead), fused as
``gamma * intra + (1 - gamma) * inter``. No EMA target, no predictor, no negatives.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ecgssl.encoders.base import Encoder
from ecgssl.methods.gather import gather_with_grad
from ecgssl.methods.heads import LeadwiseMLPHead
from ecgssl.methods.lead_pairs import LeadPairMethod
from ecgssl.methods.losses import lead_barlow_loss
from ecgssl.registry import METHODS
from ecgssl.validation import check_positive

__all__ = ["LeadBarlow"]


@METHODS.register("lead_barlow", "lfbt")
class LeadBarlow(LeadPairMethod):
    """Barlow Twins for each lead and each lead pair of a multi-branch encoder.

    With per-lead projections z = g(h(v)) shaped (batch, leads, dim), the loss is
    ``lead_barlow_loss(z1, z2)`` (:func:`ecgssl.methods.losses.lead_barlow_loss`).

    Args:
        encoder: A multi-branch encoder (``per_lead_dim`` set), e.g. ``multibranch``.
        gamma: Weight of the intra-lead term in [0, 1] (LFBT: 0.8).
        inter_pairs: ``"all"`` lead pairs or one ``"random"`` pair per step.
        shared_weights: Expected weight sharing of the encoder's branches (``None``: as built).
        shared_heads: Share one projector across leads (default: as the encoder).
        proj_hidden_dim: Per-lead projector hidden units.
        proj_dim: Per-lead projection size (the cross-correlation is proj_dim x proj_dim).
        lambd: Weight of the off-diagonal term (Barlow Twins: 0.0051).
        proj_layers: Linear layers of each per-lead projector (Barlow Twins: 3).
    """

    name = "lead_barlow"

    def __init__(
        self,
        encoder: Encoder,
        gamma: float = 0.8,
        inter_pairs: str = "all",
        shared_weights: bool | None = None,
        shared_heads: bool | None = None,
        proj_hidden_dim: int = 512,
        proj_dim: int = 256,
        lambd: float = 0.0051,
        proj_layers: int = 3,
    ) -> None:
        super().__init__(encoder, gamma, inter_pairs, shared_weights, shared_heads)
        check_positive(lambd, "lambd")
        self._forget_momentum()
        self._remember(
            proj_hidden_dim=proj_hidden_dim, proj_dim=proj_dim, lambd=lambd, proj_layers=proj_layers
        )
        self.lambd = float(lambd)
        self.projector = LeadwiseMLPHead(
            self.n_leads, self.per_lead_dim, proj_hidden_dim, proj_dim, self.shared_heads,
            num_layers=proj_layers,
        )  # fmt: skip

    def training_step(self, view1: Tensor, view2: Tensor) -> dict[str, Tensor]:
        b = view1.shape[0]
        z = self.projector(self.encoder.forward_leads(torch.cat([view1, view2])))
        pairs = self.sample_pairs(view1.device)
        z1, z2 = gather_with_grad(z[:b]), gather_with_grad(z[b:])  # global batch statistics
        loss, intra, inter = lead_barlow_loss(z1, z2, self.gamma, self.lambd, pairs)
        return {"loss": loss, "intra": intra.detach(), "inter": inter.detach()}
