"""Lead-pair objectives for multi-lead ECGs: intra-lead and inter-lead terms fused with gamma.

Every objective here first builds an (L x L) matrix whose entry (i, j) is the loss of lead i
of view 1 against lead j of view 2, then :func:`fuse_lead_pairs` turns it into
``gamma * intra + (1 - gamma) * inter``. BELL fills the matrix with BYOL losses
(:func:`bell_loss`), lead-wise Barlow Twins with Barlow Twins losses
(:func:`lead_barlow_loss`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ecgssl.errors import InvalidValueError
from ecgssl.methods.losses._precision import float32_loss
from ecgssl.methods.losses.redundancy import batch_standardize
from ecgssl.validation import check_in_range, check_positive

__all__ = ["bell_loss", "fuse_lead_pairs", "lead_barlow_loss"]


def _check_leads(p: Tensor, z: Tensor, names: str) -> None:
    if p.shape != z.shape or p.ndim != 3:
        raise InvalidValueError(
            f"{names} must both be (batch, leads, dim), got {tuple(p.shape)}, {tuple(z.shape)}"
        )


@float32_loss
def fuse_lead_pairs(
    pair_loss: Tensor, gamma: float = 0.8, pairs: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Fuse an (L x L) matrix of lead-pair losses into ``gamma * intra + (1 - gamma) * inter``.

    ``intra`` is the mean of the diagonal (lead i against lead i), ``inter`` the mean of the
    off-diagonal entries (lead i against lead j != i), or of the given ``pairs`` only.

    Args:
        pair_loss: (leads, leads) loss of lead i of one view against lead j of the other.
        gamma: Weight of the intra-lead term in [0, 1]; 1 is intra only, 0 inter only.
        pairs: Optional (P, 2) long tensor of (i, j) lead pairs with i != j.

    Returns:
        ``(loss, intra, inter)`` scalars; ``inter`` is 0 when there is a single lead.
    """
    check_in_range(gamma, "gamma", 0.0, 1.0)
    if pair_loss.ndim != 2 or pair_loss.shape[0] != pair_loss.shape[1]:
        raise InvalidValueError(f"pair_loss must be (leads, leads), got {tuple(pair_loss.shape)}")
    n_leads = pair_loss.shape[0]
    if n_leads < 2 and gamma < 1.0:
        raise InvalidValueError(
            f"the inter-lead term needs at least 2 leads, got {n_leads}; use gamma=1 for one lead"
        )
    intra = torch.diagonal(pair_loss).mean()
    if n_leads < 2:
        inter = pair_loss.new_zeros(())
    elif pairs is None:
        off_diag = ~torch.eye(n_leads, dtype=torch.bool, device=pair_loss.device)
        inter = pair_loss[off_diag].mean()
    else:
        if pairs.ndim != 2 or pairs.shape[1] != 2 or pairs.shape[0] == 0:
            raise InvalidValueError(
                f"pairs must be a non-empty (P, 2) tensor, got {tuple(pairs.shape)}"
            )
        if bool((pairs[:, 0] == pairs[:, 1]).any()):
            raise InvalidValueError("inter-lead pairs must join different leads (i != j)")
        inter = pair_loss[pairs[:, 0], pairs[:, 1]].mean()
    loss = gamma * intra + (1.0 - gamma) * inter
    return loss, intra, inter


@float32_loss
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
    _check_leads(p, z, "p and z")
    sim = torch.bmm(F.normalize(p, dim=-1), F.normalize(z, dim=-1).transpose(1, 2))  # (B, L, L)
    return fuse_lead_pairs((2 - 2 * sim).mean(dim=0), gamma, pairs)


@float32_loss
def lead_barlow_loss(
    z1: Tensor,
    z2: Tensor,
    gamma: float = 0.8,
    lambd: float = 0.0051,
    pairs: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Lead-wise Barlow Twins: the Barlow Twins loss for every pair of leads, fused with gamma.

    The Barlow Twins counterpart of BELL, after the same group's Lead-Fusion Barlow Twins
    (Liu et al., Inf Fusion 2025) and Barlow Twins (Zbontar et al., ICML 2021). Per-lead
    projections are standardised over the batch, lead by lead; for each lead pair (i, j) the
    (dim x dim) cross-correlation ``C^{ij} = z1n[:, i].T @ z2n[:, j] / batch`` gives::

        B_ij  = sum_d (1 - C^{ij}_dd)^2 + lambd * sum_d sum_{e != d} (C^{ij}_de)^2
        loss  = gamma * mean_i B_ii + (1 - gamma) * mean_{i != j} B_ij

    All L x L cross-correlations come from one ``einsum``. ``B_ij`` with the views swapped is
    ``B_ji``, so no extra symmetrisation is needed.

    Args:
        z1: First-view per-lead projections (batch, leads, dim).
        z2: Second-view per-lead projections (batch, leads, dim).
        gamma: Weight of the intra-lead term in [0, 1] (LFBT: 0.8).
        lambd: Weight of the off-diagonal (redundancy) term (> 0).
        pairs: Optional (P, 2) long tensor of inter-lead pairs (i != j) to use.

    Returns:
        ``(loss, intra, inter)`` scalars.
    """
    check_in_range(gamma, "gamma", 0.0, 1.0)
    check_positive(lambd, "lambd")
    _check_leads(z1, z2, "z1 and z2")
    b = z1.shape[0]
    if b < 2:
        raise InvalidValueError("batch statistics need a batch of at least 2 samples")
    c = torch.einsum("bid,bje->ijde", batch_standardize(z1), batch_standardize(z2)) / b
    diag = torch.diagonal(c, dim1=2, dim2=3)  # (L, L, dim)
    on_diag = (1 - diag).pow(2).sum(dim=-1)
    off_diag = c.pow(2).sum(dim=(2, 3)) - diag.pow(2).sum(dim=-1)
    return fuse_lead_pairs(on_diag + lambd * off_diag, gamma, pairs)
