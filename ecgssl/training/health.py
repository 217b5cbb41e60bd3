"""Representation health: is the encoder collapsing while it pretrains?

Non-contrastive methods (BYOL, BELL, SimSiam) can collapse to a constant representation;
contrastive ones can collapse to a few dimensions. These cheap statistics, computed on a
fixed batch of un-augmented records after every epoch, show it early:

- ``embedding_std``: per-dimension standard deviation of the L2-normalised embeddings,
  times sqrt(dim) (Chen & He, "Exploring simple Siamese representation learning", CVPR 2021):
  0 for complete collapse. Encoder features after ReLU share a large positive mean, so the
  value of a healthy encoder is well below 1; compare it across epochs of one run;
- ``relative_variance``: total variance of the embeddings over their mean squared norm, in
  [0, 1]; 0 when every record maps to the same point;
- ``effective_rank``: exp of the entropy of the normalised singular values of the centred
  embedding matrix (Roy & Vetterli, EUSIPCO 2007), between 1 and min(batch, dim);
- for multi-branch encoders, ``intra_lead_cos``: mean cosine similarity of the same lead's
  latent between different records (high = leads no longer tell records apart), and
  ``inter_lead_cos``: mean cosine similarity between different leads of the same record
  (high = every lead maps to the same latent; BELL's inter-lead term pushes this way).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ecgssl.encoders.base import Encoder
from ecgssl.errors import InvalidValueError

__all__ = ["COLLAPSE_RANK", "COLLAPSE_VARIANCE", "is_collapsed", "representation_health"]

#: ``relative_variance`` below this is reported as a collapse.
COLLAPSE_VARIANCE = 1e-4
#: ``effective_rank`` below this is reported as a collapse.
COLLAPSE_RANK = 1.5


def _effective_rank(z: Tensor) -> float:
    z = z - z.mean(dim=0, keepdim=True)
    s = torch.linalg.svdvals(z.double())
    if float(s.sum()) <= 0:
        return 1.0
    p = s / s.sum()
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


@torch.no_grad()
def representation_health(encoder: Encoder, x: Tensor) -> dict[str, float]:
    """Collapse statistics of ``encoder`` on the (batch, leads, time) records ``x``.

    The encoder is evaluated in eval mode and restored to its previous mode.

    Returns:
        ``embedding_std``, ``relative_variance``, ``effective_rank`` and, for multi-branch
        encoders,
        ``intra_lead_cos`` and ``inter_lead_cos``.
    """
    if x.shape[0] < 2:
        raise InvalidValueError("representation health needs a batch of at least 2 records")
    was_training = encoder.training
    encoder.eval()
    try:
        z = encoder(x).float()
        out = {
            "embedding_std": float(F.normalize(z, dim=1).std(dim=0).mean()) * math.sqrt(z.shape[1]),
            "relative_variance": float(z.var(dim=0, unbiased=False).sum())
            / max(float(z.pow(2).sum(dim=1).mean()), 1e-12),
            "effective_rank": _effective_rank(z),
        }
        if encoder.is_multibranch and x.shape[1] > 1:
            h = F.normalize(encoder.forward_leads(x).float(), dim=-1)  # (B, L, D)
            b, n_leads, _ = h.shape
            per_lead = torch.einsum("ild,jld->lij", h, h)  # (L, B, B) across records
            off_b = ~torch.eye(b, dtype=torch.bool, device=h.device)
            out["intra_lead_cos"] = float(per_lead[:, off_b].mean())
            cross = torch.bmm(h, h.transpose(1, 2))  # (B, L, L) within a record
            off_l = ~torch.eye(n_leads, dtype=torch.bool, device=h.device)
            out["inter_lead_cos"] = float(cross[:, off_l].mean())
    finally:
        encoder.train(was_training)
    return out


def is_collapsed(health: dict[str, float]) -> bool:
    """Whether the statistics indicate a collapsed representation."""
    return (
        health.get("relative_variance", 1.0) < COLLAPSE_VARIANCE
        or health.get("effective_rank", math.inf) < COLLAPSE_RANK
    )
