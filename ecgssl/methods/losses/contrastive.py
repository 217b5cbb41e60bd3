"""Contrastive losses with negative pairs: SimCLR's NT-Xent, MoCo v3's InfoNCE and CLOCS."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ecgssl.errors import InvalidValueError
from ecgssl.methods.losses._precision import float32_loss
from ecgssl.validation import check_positive

__all__ = ["clocs_loss", "moco_v3_loss", "nt_xent_loss"]


def _check_pair(a: Tensor, b: Tensor, names: str) -> None:
    if a.shape != b.shape or a.ndim != 2:
        raise InvalidValueError(
            f"{names} must both be (batch, dim), got {tuple(a.shape)}, {tuple(b.shape)}"
        )


@float32_loss
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
    _check_pair(z1, z2, "z1 and z2")
    n = z1.shape[0]
    if n < 2:
        raise InvalidValueError("NT-Xent needs a batch of at least 2 samples to have negatives")
    z = F.normalize(torch.cat([z1, z2]), dim=-1)
    logits = (z @ z.T) / temperature
    logits.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, targets)


@float32_loss
def moco_v3_loss(q: Tensor, k: Tensor, temperature: float = 1.0) -> Tensor:
    """MoCo v3's contrastive loss ``ctr(q, k)`` (Chen, Xie & He, "An Empirical Study of
    Training Self-Supervised Vision Transformers", ICCV 2021, Algorithm 1).

    Queries and keys are l2-normalised; query n's positive is key n and the other keys of
    the batch are its negatives (no memory queue)::

        ctr(q, k) = 2 tau * mean_n -log( exp(q_n . k_n / tau) / sum_m exp(q_n . k_m / tau) )

    The factor ``2 tau`` is the paper's, making the gradient scale independent of tau.
    MoCo v3 symmetrises it: ``ctr(q1, sg(k2)) + ctr(q2, sg(k1))``.

    Args:
        q: Online predictions (batch, dim).
        k: Momentum-encoder keys of the other view (batch, dim); detach them first.
        temperature: Softmax temperature tau > 0 (paper: 1.0 for ResNets, 0.2 for ViTs).

    Returns:
        Scalar loss.
    """
    check_positive(temperature, "temperature")
    _check_pair(q, k, "q and k")
    if q.shape[0] < 2:
        raise InvalidValueError(
            "the MoCo v3 loss needs a batch of at least 2 samples to have negatives"
        )
    logits = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).T / temperature
    targets = torch.arange(q.shape[0], device=q.device)
    return F.cross_entropy(logits, targets) * (2 * temperature)


@float32_loss
def clocs_loss(
    embeddings: Tensor, temperature: float = 0.1, patient_ids: Tensor | None = None
) -> Tensor:
    """CLOCS' contrastive loss across space and time (Kiyasseh, Zhu & Clifton, "CLOCS:
    Contrastive Learning of Cardiac Signals Across Space, Time, and Patients", ICML 2021).

    ``embeddings[:, v]`` holds V "views" of every record of the batch: adjacent
    non-overlapping segments (CMSC), different leads (CMLC) or both (CMSMLC). For every pair of
    views a < b, with ``s_nm = cos(e_n^a, e_m^b) / tau`` and the positives ``P(n)`` of
    record n (record n itself, or every record of the same patient when ``patient_ids`` is
    given)::

        L_ab = mean_n mean_{m in P(n)} -log( exp(s_nm) / sum_k exp(s_nk) )
        loss = mean_{a < b} (L_ab + L_ba) / 2

    where ``L_ba`` swaps the roles of the views (the columns of ``s``). As in CLOCS, the
    negatives of an anchor are the other records in the *other* view only. Without patient
    ids this is exactly the CLOCS objective; with them, same-patient records are positives in
    the multi-positive form of Khosla et al. (NeurIPS 2020), a tidier weighting than the CLOCS
    code's separate averages of diagonal and same-patient terms.

    Args:
        embeddings: (batch, views, dim), at least 2 views and 2 records.
        temperature: Softmax temperature tau > 0 (CLOCS: 0.1).
        patient_ids: Optional integer patient id per record (batch,).

    Returns:
        Scalar loss.
    """
    check_positive(temperature, "temperature")
    if embeddings.ndim != 3:
        raise InvalidValueError(
            f"embeddings must be (batch, views, dim), got shape {tuple(embeddings.shape)}"
        )
    b, n_views, _ = embeddings.shape
    if n_views < 2:
        raise InvalidValueError(f"CLOCS needs at least 2 views per record, got {n_views}")
    if b < 2:
        raise InvalidValueError("CLOCS needs a batch of at least 2 records to have negatives")
    if patient_ids is None:
        positives = torch.eye(b, dtype=torch.bool, device=embeddings.device)
    else:
        if patient_ids.shape != (b,):
            raise InvalidValueError(
                f"patient_ids must have shape ({b},), got {tuple(patient_ids.shape)}"
            )
        pid = patient_ids.to(embeddings.device)
        positives = pid[:, None] == pid[None, :]
    e = F.normalize(embeddings, dim=-1)
    a_idx, b_idx = torch.triu_indices(n_views, n_views, offset=1, device=e.device)
    # (pairs, batch, batch): similarity of view a of record n with view b of record m.
    sim = torch.einsum("pnd,pmd->pnm", e[:, a_idx].transpose(0, 1), e[:, b_idx].transpose(0, 1))
    sim = sim / temperature
    pos = positives.to(sim.dtype)
    n_pos = pos.sum(dim=1)  # symmetric, so the same for rows and columns
    log_p_rows = sim - sim.logsumexp(dim=2, keepdim=True)  # anchors in view a
    log_p_cols = sim - sim.logsumexp(dim=1, keepdim=True)  # anchors in view b
    l_ab = -((log_p_rows * pos).sum(dim=2) / n_pos).mean(dim=1)
    l_ba = -((log_p_cols * pos).sum(dim=1) / n_pos).mean(dim=1)
    return ((l_ab + l_ba) / 2).mean()
