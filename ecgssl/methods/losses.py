"""SSL losses as pure functions (no state, no modules).

Each is tested against a slow reference written out with explicit loops
(``tests/methods/test_losses.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ecgssl.validation import check_in_range, check_positive

__all__ = ["bell_loss", "byol_loss", "nt_xent_loss"]


def byol_loss(p: Tensor, z: Tensor) -> Tensor:
    """BYOL's normalised MSE, ``mean(2 - 2 cos(p, z))`` (Grill et al., NeurIPS 2020).

    Args:
        p: Online predictions (batch, dim).
        z: Target projections (batch, dim); gradients are not blocked here, detach first.

    Returns:
        Scalar loss in [0, 4].
    """
    if p.shape != z.shape or p.ndim != 2:
        raise ValueError(
            f"p and z must both be (batch, dim), got {tuple(p.shape)}, {tuple(z.shape)}"
        )
    return (2 - 2 * F.cosine_similarity(p, z, dim=-1)).mean()


def nt_xent_loss(z1: Tensor, z2: Tensor, temperature: float = 0.1) -> Tensor:
    """SimCLR's normalised temperature-scaled cross entropy (Chen et al., ICML 2020).

    For 2N embeddings, each one's positive is its other view and the remaining 2N - 2 are
    negatives. The loss is averaged over all 2N anchors.

    Args:
        z1: First-view projections (batch, dim).
        z2: Second-view projections (batch, dim).
        temperature: Softmax temperature tau > 0.

    Returns:
        Scalar loss.
    """
    check_positive(temperature, "temperature")
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(
            f"z1 and z2 must both be (batch, dim), got {tuple(z1.shape)}, {tuple(z2.shape)}"
        )
    n = z1.shape[0]
    if n < 2:
        raise ValueError("NT-Xent needs a batch of at least 2 samples to have negatives")
    z = F.normalize(torch.cat([z1, z2]), dim=-1)
    logits = (z @ z.T) / temperature
    logits.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, targets)


def bell_loss(
    p: Tensor, z: Tensor, gamma: float = 0.8, pairs: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """BELL's fused intra-lead / inter-lead bootstrap loss (Liu et al., CMPB 2024).

    With per-lead predictions ``p`` (online, view 1) and targets ``z`` (EMA, view 2), the
    per-sample L x L cosine-similarity matrix ``S = normalize(p) @ normalize(z).T`` is computed
    in one batched matmul. Then::

        intra = mean_i (2 - 2 S_ii)            # lead i predicts lead i (BYOL per lead)
        inter = mean_{i != j} (2 - 2 S_ij)     # lead i predicts every other lead's target
        loss  = gamma * intra + (1 - gamma) * inter

    averaged over the batch. This is ecgssl's reconstruction (see ``shared/BELL.md``).

    Args:
        p: Online per-lead predictions (batch, leads, dim).
        z: Target per-lead projections (batch, leads, dim); detach them before calling.
        gamma: Weight of the intra-lead term in [0, 1]; 1 gives per-lead BYOL, 0 inter only.
        pairs: Optional (P, 2) long tensor of (i, j) lead pairs with i != j; the inter-lead
            term then averages over these pairs only (e.g. one random pair per step).

    Returns:
        ``(loss, intra, inter)`` scalars. ``inter`` is 0 when there is a single lead.
    """
    check_in_range(gamma, "gamma", 0.0, 1.0)
    if p.shape != z.shape or p.ndim != 3:
        raise ValueError(
            f"p and z must both be (batch, leads, dim), got {tuple(p.shape)}, {tuple(z.shape)}"
        )
    n_leads = p.shape[1]
    if n_leads < 2 and gamma < 1.0:
        raise ValueError(
            f"the inter-lead term needs at least 2 leads, got {n_leads}; use gamma=1 for one lead"
        )
    sim = torch.bmm(F.normalize(p, dim=-1), F.normalize(z, dim=-1).transpose(1, 2))  # (B, L, L)
    dist = (2 - 2 * sim).mean(dim=0)  # (L, L), batch-averaged
    intra = torch.diagonal(dist).mean()
    if n_leads < 2:
        inter = dist.new_zeros(())
    elif pairs is None:
        off_diag = ~torch.eye(n_leads, dtype=torch.bool, device=dist.device)
        inter = dist[off_diag].mean()
    else:
        if pairs.ndim != 2 or pairs.shape[1] != 2 or pairs.shape[0] == 0:
            raise ValueError(f"pairs must be a non-empty (P, 2) tensor, got {tuple(pairs.shape)}")
        if bool((pairs[:, 0] == pairs[:, 1]).any()):
            raise ValueError("inter-lead pairs must join different leads (i != j)")
        inter = dist[pairs[:, 0], pairs[:, 1]].mean()
    loss = gamma * intra + (1.0 - gamma) * inter
    return loss, intra, inter
