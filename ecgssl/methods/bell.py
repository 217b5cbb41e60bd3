"""BELL: Bootstrap Each Lead's Latent (Liu et al., Comput Methods Programs Biomed 2024).

A BYOL variant for multi-lead ECGs on a multi-branch encoder (one branch per lead): each
lead's latent gets its own projector and predictor, and the loss fuses an intra-lead term
(lead i of view 1 predicts lead i of view 2) with an inter-lead term (lead i predicts lead
j != i), without negative pairs. The paper's code is not public; this is ecgssl's
reconstruction from its abstract and the same group's sibling work (``shared/BELL.md``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ecgssl.encoders.base import Encoder
from ecgssl.methods.base import SSLMethod
from ecgssl.methods.heads import LeadwiseMLPHead
from ecgssl.methods.losses import bell_loss
from ecgssl.registry import METHODS
from ecgssl.validation import check_in_range

__all__ = ["BELL"]

_PAIR_MODES = ("all", "random")


@METHODS.register("bell")
class BELL(SSLMethod):
    """Bootstrap each lead's latent with fused intra-/inter-lead losses.

    online: multi-branch encoder -> per-lead projector g_i -> per-lead predictor q_i;
    target: EMA(encoder) -> EMA(projectors). With p = q(g(h(v1))) and z = g'(h'(v2)) shaped
    (batch, leads, dim), the loss is ``bell_loss(p1, sg(z2)) + bell_loss(p2, sg(z1))``,
    each ``gamma * intra + (1 - gamma) * inter`` (see :func:`ecgssl.methods.losses.bell_loss`).

    Args:
        encoder: A multi-branch encoder (``per_lead_dim`` set), e.g. ``multibranch``.
        gamma: Weight of the intra-lead term in [0, 1] (0.8 as in the group's LFBT; 1 is
            per-lead BYOL, 0 inter-lead only).
        inter_pairs: ``"all"`` uses all L(L-1) ordered lead pairs in the inter-lead term;
            ``"random"`` samples one random pair (i, j != i) per step.
        shared_weights: Expected weight sharing of the encoder's branches (``None``: take the
            encoder as it is). ``ecgssl.pretrain`` uses it to build the default encoder.
        shared_heads: Share one projector/predictor across leads (default: same as the
            encoder's weight sharing).
        proj_hidden_dim: Per-lead projector hidden units.
        proj_dim: Per-lead projection size.
        pred_hidden_dim: Per-lead predictor hidden units.
        base_momentum: EMA momentum at the start (0.996).
        final_momentum: EMA momentum at the end (1.0).
        momentum_schedule: ``"cosine"`` or ``"constant"``.
    """

    name = "bell"
    requires_multibranch = True

    def __init__(
        self,
        encoder: Encoder,
        gamma: float = 0.8,
        inter_pairs: str = "all",
        shared_weights: bool | None = None,
        shared_heads: bool | None = None,
        proj_hidden_dim: int = 256,
        proj_dim: int = 64,
        pred_hidden_dim: int = 256,
        base_momentum: float = 0.996,
        final_momentum: float = 1.0,
        momentum_schedule: str = "cosine",
    ) -> None:
        super().__init__(encoder, base_momentum, final_momentum, momentum_schedule)
        check_in_range(gamma, "gamma", 0.0, 1.0)
        if inter_pairs not in _PAIR_MODES:
            raise ValueError(f"inter_pairs must be one of {_PAIR_MODES}, got {inter_pairs!r}")
        encoder_shared = bool(encoder.config.get("shared_weights", False))
        if shared_weights is not None and bool(shared_weights) != encoder_shared:
            raise ValueError(
                f"shared_weights={shared_weights} but the encoder was built with "
                f"shared_weights={encoder_shared}"
            )
        n_leads = encoder.n_leads
        if n_leads < 2 and gamma < 1.0:
            raise ValueError(
                f"BELL's inter-lead term needs at least 2 leads, the encoder has {n_leads}; "
                "set gamma=1 for single-lead data"
            )
        shared_heads = encoder_shared if shared_heads is None else bool(shared_heads)
        self.gamma = float(gamma)
        self.inter_pairs = inter_pairs
        self._remember(
            gamma=gamma, inter_pairs=inter_pairs, shared_weights=encoder_shared,
            shared_heads=shared_heads, proj_hidden_dim=proj_hidden_dim, proj_dim=proj_dim,
            pred_hidden_dim=pred_hidden_dim,
        )  # fmt: skip
        d = int(encoder.per_lead_dim or 0)
        self.projector = LeadwiseMLPHead(n_leads, d, proj_hidden_dim, proj_dim, shared_heads)
        self.predictor = LeadwiseMLPHead(n_leads, proj_dim, pred_hidden_dim, proj_dim, shared_heads)
        self.target_encoder = self.add_momentum_pair(self.encoder)
        self.target_projector = self.add_momentum_pair(self.projector)

    @classmethod
    def default_encoder(cls, **hparams: Any) -> dict[str, Any]:
        """Encoder spec used by ``ecgssl.pretrain`` when no encoder is given."""
        spec: dict[str, Any] = {"name": "multibranch"}
        if hparams.get("shared_weights") is not None:
            spec["shared_weights"] = bool(hparams["shared_weights"])
        return spec

    def _sample_pairs(self, device: torch.device) -> Tensor | None:
        if self.inter_pairs == "all":
            return None
        n = self.encoder.n_leads
        i = torch.randint(n, (1,))
        j = (i + torch.randint(1, n, (1,))) % n  # uniform over j != i
        return torch.stack([i, j], dim=1).to(device)

    def training_step(self, view1: Tensor, view2: Tensor) -> dict[str, Tensor]:
        b = view1.shape[0]
        both = torch.cat([view1, view2])
        p = self.predictor(self.projector(self.encoder.forward_leads(both)))
        with torch.no_grad():
            z = self.target_projector(self.target_encoder.forward_leads(both))
        pairs = self._sample_pairs(view1.device)
        loss_a, intra_a, inter_a = bell_loss(p[:b], z[b:], self.gamma, pairs)
        loss_b, intra_b, inter_b = bell_loss(p[b:], z[:b], self.gamma, pairs)
        return {
            "loss": loss_a + loss_b,
            "intra": (intra_a + intra_b).detach(),
            "inter": (inter_a + inter_b).detach(),
        }
