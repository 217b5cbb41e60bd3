"""Redundancy-reduction losses without negatives: Barlow Twins and VICReg."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ecgssl.errors import InvalidValueError
from ecgssl.methods.losses._precision import float32_loss
from ecgssl.validation import check_positive

__all__ = [
    "barlow_twins_loss",
    "batch_standardize",
    "cross_lead_covariance",
    "lead_variance_covariance",
    "vicreg_loss",
]


def _check_batch(z: Tensor) -> None:
    if z.shape[0] < 2:
        raise InvalidValueError("batch statistics need a batch of at least 2 samples")


def _check_pair(a: Tensor, b: Tensor) -> None:
    if a.shape != b.shape or a.ndim != 2:
        raise InvalidValueError(
            f"z1 and z2 must both be (batch, dim), got {tuple(a.shape)}, {tuple(b.shape)}"
        )
    _check_batch(a)


def _check_leads(z: Tensor) -> None:
    if z.ndim != 3:
        raise InvalidValueError(f"z must be (batch, leads, dim), got {tuple(z.shape)}")
    _check_batch(z)


def batch_standardize(z: Tensor, eps: float = 1e-5, dim: int = 0) -> Tensor:
    """Standardise each feature over the batch: ``(z - mean) / sqrt(var + eps)``.

    The variance is the biased one, as in ``BatchNorm1d(affine=False)`` in training mode,
    which Barlow Twins applies to the projections before the cross-correlation.
    """
    mean = z.mean(dim=dim, keepdim=True)
    var = z.var(dim=dim, unbiased=False, keepdim=True)
    return (z - mean) / torch.sqrt(var + eps)


@float32_loss
def barlow_twins_loss(z1: Tensor, z2: Tensor, lambd: float = 0.0051) -> Tensor:
    """Barlow Twins' redundancy-reduction loss (Zbontar, Jing, Misra, LeCun & Deny,
    "Barlow Twins: Self-Supervised Learning via Redundancy Reduction", ICML 2021, Eq. 1).

    With the batch-standardised projections (:func:`batch_standardize`) and their
    cross-correlation matrix ``C = z1n.T @ z2n / batch`` (dim x dim)::

        loss = sum_i (1 - C_ii)^2 + lambd * sum_i sum_{j != i} C_ij^2

    The invariance term pulls the two views' features together; the redundancy-reduction
    term decorrelates different features.

    Args:
        z1: First-view projections (batch, dim).
        z2: Second-view projections (batch, dim).
        lambd: Weight of the off-diagonal term (> 0; paper: 0.0051 for dim 8192).

    Returns:
        Scalar loss.
    """
    check_positive(lambd, "lambd")
    _check_pair(z1, z2)
    c = batch_standardize(z1).T @ batch_standardize(z2) / z1.shape[0]
    diag = torch.diagonal(c)
    on_diag = (1 - diag).pow(2).sum()
    off_diag = c.pow(2).sum() - diag.pow(2).sum()
    return on_diag + lambd * off_diag


def _variance_covariance(z: Tensor, gamma: float, eps: float) -> tuple[Tensor, Tensor]:
    """VICReg's variance hinge and covariance penalty of each group of (batch, groups, dim)
    embeddings, averaged over the groups (one group: plain VICReg; leads: BELL's regulariser)."""
    n, _, d = z.shape
    zc = z - z.mean(dim=0, keepdim=True)
    cov = torch.einsum("bgd,bge->gde", zc, zc) / (n - 1)  # unbiased, as in the paper's code
    var = torch.diagonal(cov, dim1=1, dim2=2)  # (groups, dim)
    variance = F.relu(gamma - torch.sqrt(var + eps)).mean()
    covariance = ((cov.pow(2).sum(dim=(1, 2)) - var.pow(2).sum(dim=1)) / d).mean()
    return variance, covariance


@float32_loss
def vicreg_loss(
    z1: Tensor,
    z2: Tensor,
    sim_weight: float = 25.0,
    var_weight: float = 25.0,
    cov_weight: float = 1.0,
    gamma: float = 1.0,
    eps: float = 1e-4,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """VICReg: variance-invariance-covariance regularisation (Bardes, Ponce & LeCun,
    "VICReg: Variance-Invariance-Covariance Regularization for Self-Supervised Learning",
    ICLR 2022, Eqs. 1–6).

    For embeddings Z, Z' (batch n, dim d)::

        s(Z, Z') = mean_b ||z_b - z'_b||^2 / d                      # invariance (MSE)
        v(Z)     = mean_j max(0, gamma - sqrt(Var(z^j) + eps))      # variance hinge
        c(Z)     = sum_{i != j} Cov(Z)_ij^2 / d                     # covariance
        loss     = lambda s + mu (v(Z) + v(Z')) / 2 + nu (c(Z) + c(Z'))

    The variance term is averaged over the two branches as in the authors' code, on which the
    paper's coefficients (lambda = mu = 25, nu = 1) were tuned.

    Args:
        z1: First-view embeddings (batch, dim).
        z2: Second-view embeddings (batch, dim).
        sim_weight: lambda, weight of the invariance term (>= 0).
        var_weight: mu, weight of the variance term (>= 0).
        cov_weight: nu, weight of the covariance term (>= 0).
        gamma: Target standard deviation of every embedding dimension (> 0).
        eps: Numerical stabiliser inside the square root (> 0).

    Returns:
        ``(loss, invariance, variance, covariance)`` scalars (unweighted terms).
    """
    for name, value in (
        ("sim_weight", sim_weight), ("var_weight", var_weight), ("cov_weight", cov_weight),
    ):  # fmt: skip
        check_positive(value, name, allow_zero=True)
    check_positive(gamma, "gamma")
    check_positive(eps, "eps")
    _check_pair(z1, z2)
    invariance = F.mse_loss(z1, z2)
    var1, cov1 = _variance_covariance(z1[:, None], gamma, eps)
    var2, cov2 = _variance_covariance(z2[:, None], gamma, eps)
    variance, covariance = (var1 + var2) / 2, cov1 + cov2
    loss = sim_weight * invariance + var_weight * variance + cov_weight * covariance
    return loss, invariance, variance, covariance


@float32_loss
def lead_variance_covariance(
    z: Tensor, gamma: float = 1.0, eps: float = 1e-4
) -> tuple[Tensor, Tensor]:
    """VICReg's variance and covariance terms for each lead's embeddings, all leads at once.

    For per-lead embeddings ``z`` (batch n, leads L, dim d) and each lead l (Bardes et al.,
    ICLR 2022, Eqs. 2-4, applied lead by lead)::

        v_l = mean_j max(0, gamma - sqrt(Var(z[:, l, j]) + eps))
        c_l = sum_{i != j} Cov(z[:, l])_ij^2 / d

    and the returned terms are the means over leads. BELL uses them as an optional
    regulariser of its online projections (``var_weight``, ``cov_weight``): they keep every
    projection dimension of every lead in use, which the bootstrap loss alone does not ask for.

    Args:
        z: Per-lead embeddings (batch, leads, dim), batch >= 2.
        gamma: Target standard deviation of every dimension (> 0).
        eps: Numerical stabiliser inside the square root (> 0).

    Returns:
        ``(variance, covariance)`` scalars.
    """
    check_positive(gamma, "gamma")
    check_positive(eps, "eps")
    _check_leads(z)
    return _variance_covariance(z, gamma, eps)


@float32_loss
def cross_lead_covariance(z: Tensor) -> Tensor:
    """Covariance between different leads' embedding dimensions, all lead pairs at once.

    For per-lead embeddings ``z`` (batch n, leads L, dim d), with ``C_lm`` the (d x d)
    covariance between lead l's and lead m's dimensions over the batch::

        c_cross = sum_{l != m} ||C_lm||_F^2 / (L d)

    the cross-lead counterpart of :func:`lead_variance_covariance`'s ``c`` (which only looks
    inside each lead, ``C_ll``). It is small when the leads' embeddings carry different
    information, and large when each lead repeats the others, which is what a downstream
    probe over the concatenated leads gains nothing from. BELL uses it as an optional
    regulariser of its online projections (``cross_cov_weight``).

    Args:
        z: Per-lead embeddings (batch, leads, dim), batch >= 2.

    Returns:
        A scalar.
    """
    _check_leads(z)
    n, leads, d = z.shape
    zc = (z - z.mean(dim=0, keepdim=True)).reshape(n, leads * d)
    full = zc.T @ zc / (n - 1)  # (L d, L d); its diagonal blocks are the per-lead covariances
    blocks = full.reshape(leads, d, leads, d).diagonal(dim1=0, dim2=2)  # (d, d, L)
    return (full.pow(2).sum() - blocks.pow(2).sum()) / (leads * d)
