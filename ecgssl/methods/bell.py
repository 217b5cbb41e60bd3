"""BELL: Bootstrap Each Lead's Latent (Liu et al., Comput Methods Programs Biomed 2024).

A BYOL variant for multi-lead ECGs on a multi-branch encoder (one branch per lead): each
lead's latent gets its own projector and predictor, and the loss fuses an intra-lead term
(lead i of view 1 predicts lead i of view 2) with an inter-lead term (lead i predicts lead
j != i), without negative pairs. The paper's code is not public; this is ecgssl's
reconstruction from its abstract and the same group's sibling work (``shared/BELL.md``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ecgssl.encoders.base import Encoder
from ecgssl.errors import InvalidValueError
from ecgssl.methods.gather import gather_with_grad
from ecgssl.methods.heads import LeadwiseMLPHead
from ecgssl.methods.lead_pairs import LeadPairMethod
from ecgssl.methods.losses import bell_loss, cross_lead_covariance, lead_variance_covariance
from ecgssl.registry import METHODS
from ecgssl.validation import check_positive

__all__ = ["BELL"]

#: What BELL's optional penalties may act on (``regularise``).
_REGULARISED = ("projection", "representation", "both")


@METHODS.register("bell")
class BELL(LeadPairMethod):
    """Bootstrap each lead's latent with fused intra-/inter-lead losses.

    online: multi-branch encoder -> per-lead projector g_i -> per-lead predictor q_i;
    target: EMA(encoder) -> EMA(projectors). With p = q(g(h(v1))) and z = g'(h'(v2)) shaped
    (batch, leads, dim), the loss is ``bell_loss(p1, sg(z2)) + bell_loss(p2, sg(z1))``,
    each ``gamma * intra + (1 - gamma) * inter`` (see :func:`ecgssl.methods.losses.bell_loss`).

    Optionally (``var_weight``, ``cov_weight`` > 0) VICReg's variance and covariance terms,
    lead by lead, regularise the online projections g(h(v)) of both views
    (:func:`ecgssl.methods.losses.lead_variance_covariance`), and ``cross_cov_weight`` > 0
    penalises the covariance between different leads' projection dimensions
    (:func:`ecgssl.methods.losses.cross_lead_covariance`); ``regularise="representation"``
    moves all three onto the encoder's per-lead latents h, and ``"both"`` applies them, with
    the same weights, to h and to g(h). These are ecgssl additions, not
    part of the paper's BELL; all three weights are 0 by default.

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
        var_weight: Weight of the per-lead variance hinge on the online projections (>= 0).
        cov_weight: Weight of the per-lead covariance penalty on the online projections (>= 0).
        cross_cov_weight: Weight of the covariance penalty between different leads' online
            projections (>= 0).
        regularise: What the three penalties act on: ``"projection"`` (the online
            projections g(h), as VICReg does), ``"representation"`` (the encoder's per-lead
            latents h, which a downstream probe reads) or ``"both"`` (each penalty on h and on
            g(h), summed).
    """

    name = "bell"

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
        var_weight: float = 0.0,
        cov_weight: float = 0.0,
        cross_cov_weight: float = 0.0,
        regularise: str = "projection",
    ) -> None:
        super().__init__(
            encoder, gamma, inter_pairs, shared_weights, shared_heads, base_momentum,
            final_momentum, momentum_schedule,
        )  # fmt: skip
        check_positive(var_weight, "var_weight", allow_zero=True)
        check_positive(cov_weight, "cov_weight", allow_zero=True)
        check_positive(cross_cov_weight, "cross_cov_weight", allow_zero=True)
        if regularise not in _REGULARISED:
            raise InvalidValueError(f"regularise must be one of {_REGULARISED}, got {regularise!r}")
        self._remember(
            proj_hidden_dim=proj_hidden_dim, proj_dim=proj_dim, pred_hidden_dim=pred_hidden_dim,
            var_weight=var_weight, cov_weight=cov_weight, cross_cov_weight=cross_cov_weight,
            regularise=regularise,
        )  # fmt: skip
        self.var_weight = float(var_weight)
        self.cov_weight = float(cov_weight)
        self.cross_cov_weight = float(cross_cov_weight)
        self.regularise = regularise
        n, d, shared = self.n_leads, self.per_lead_dim, self.shared_heads
        self.projector = LeadwiseMLPHead(n, d, proj_hidden_dim, proj_dim, shared)
        self.predictor = LeadwiseMLPHead(n, proj_dim, pred_hidden_dim, proj_dim, shared)
        self.target_encoder = self.add_momentum_pair(self.encoder)
        self.target_projector = self.add_momentum_pair(self.projector)

    def training_step(self, view1: Tensor, view2: Tensor) -> dict[str, Tensor]:
        b = view1.shape[0]
        both = torch.cat([view1, view2])
        h = self.encoder.forward_leads(both)
        g = self.projector(h)
        p = self.predictor(g)
        with torch.no_grad():
            z = self.target_projector(self.target_encoder.forward_leads(both))
        pairs = self.sample_pairs(view1.device)
        loss_a, intra_a, inter_a = bell_loss(p[:b], z[b:], self.gamma, pairs)
        loss_b, intra_b, inter_b = bell_loss(p[b:], z[:b], self.gamma, pairs)
        out = {
            "loss": loss_a + loss_b,
            "intra": (intra_a + intra_b).detach(),
            "inter": (inter_a + inter_b).detach(),
        }
        per_lead = self.var_weight > 0 or self.cov_weight > 0
        if not (per_lead or self.cross_cov_weight > 0):
            return out
        on = {"projection": (g,), "representation": (h,), "both": (h, g)}[self.regularise]
        gathered = [(gather_with_grad(r[:b]), gather_with_grad(r[b:])) for r in on]  # once each
        if per_lead:
            variance = covariance = torch.zeros((), device=view1.device)
            for ra, rb in gathered:
                var_a, cov_a = lead_variance_covariance(ra)
                var_b, cov_b = lead_variance_covariance(rb)
                variance, covariance = variance + (var_a + var_b) / 2, covariance + cov_a + cov_b
            out["loss"] = out["loss"] + self.var_weight * variance + self.cov_weight * covariance
            out["variance"], out["covariance"] = variance.detach(), covariance.detach()
        if self.cross_cov_weight > 0:
            cross = torch.zeros((), device=view1.device)
            for ra, rb in gathered:
                cross = cross + cross_lead_covariance(ra) + cross_lead_covariance(rb)
            out["loss"] = out["loss"] + self.cross_cov_weight * cross
            out["cross_covariance"] = cross.detach()
        return out
