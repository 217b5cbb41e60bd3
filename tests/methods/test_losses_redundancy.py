"""Barlow Twins and VICReg losses against slow references written out with explicit loops."""

from __future__ import annotations

import math

import pytest
import torch

from ecgssl.methods.losses import (
    barlow_twins_loss,
    batch_standardize,
    cross_lead_covariance,
    lead_variance_covariance,
    vicreg_loss,
)


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def ref_standardize(z: torch.Tensor, eps: float = 1e-5) -> list[list[float]]:
    n, d = z.shape
    out = [[0.0] * d for _ in range(n)]
    for j in range(d):
        col = [float(z[b, j]) for b in range(n)]
        mu = _mean(col)
        var = sum((c - mu) ** 2 for c in col) / n
        for b in range(n):
            out[b][j] = (col[b] - mu) / math.sqrt(var + eps)
    return out


def ref_barlow(z1: torch.Tensor, z2: torch.Tensor, lambd: float) -> float:
    n, d = z1.shape
    a, b = ref_standardize(z1), ref_standardize(z2)
    loss = 0.0
    for i in range(d):
        for j in range(d):
            c = sum(a[k][i] * b[k][j] for k in range(n)) / n
            loss += (1 - c) ** 2 if i == j else lambd * c**2
    return loss


def ref_vicreg(z1, z2, lam, mu, nu, gamma=1.0, eps=1e-4):
    n, d = z1.shape
    inv = sum(float(z1[b, j] - z2[b, j]) ** 2 for b in range(n) for j in range(d)) / (n * d)

    def var_term(z):
        total = 0.0
        for j in range(d):
            col = [float(z[b, j]) for b in range(n)]
            m = _mean(col)
            std = math.sqrt(sum((c - m) ** 2 for c in col) / (n - 1) + eps)
            total += max(0.0, gamma - std)
        return total / d

    def cov_term(z):
        means = [_mean([float(z[b, j]) for b in range(n)]) for j in range(d)]
        total = 0.0
        for i in range(d):
            for j in range(d):
                if i != j:
                    cov = sum(
                        (float(z[b, i]) - means[i]) * (float(z[b, j]) - means[j]) for b in range(n)
                    ) / (n - 1)
                    total += cov**2
        return total / d

    var = (var_term(z1) + var_term(z2)) / 2
    cov = cov_term(z1) + cov_term(z2)
    return lam * inv + mu * var + nu * cov, inv, var, cov


@pytest.mark.parametrize("shape", [(2, 3), (6, 8), (16, 5)])
def test_batch_standardize_matches_reference(shape):
    z = torch.randn(*shape, generator=torch.Generator().manual_seed(0)).double()
    torch.testing.assert_close(
        batch_standardize(z), torch.tensor(ref_standardize(z), dtype=z.dtype), atol=1e-9, rtol=0
    )


@pytest.mark.parametrize("shape", [(2, 3), (6, 8), (16, 12)])
@pytest.mark.parametrize("lambd", [0.0051, 0.5])
def test_barlow_twins_matches_reference(shape, lambd):
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(*shape, generator=g).double(), torch.randn(*shape, generator=g).double()
    assert float(barlow_twins_loss(z1, z2, lambd)) == pytest.approx(
        ref_barlow(z1, z2, lambd), rel=1e-9
    )


def test_barlow_twins_is_zero_for_identical_decorrelated_views():
    # Orthogonal, centred columns with unit variance: C = identity, loss = 0.
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]]).double()
    assert float(barlow_twins_loss(z, z)) == pytest.approx(0.0, abs=1e-4)


@pytest.mark.parametrize("shape", [(2, 3), (7, 6), (12, 10)])
@pytest.mark.parametrize("weights", [(25.0, 25.0, 1.0), (1.0, 0.0, 3.0)])
def test_vicreg_matches_reference(shape, weights):
    g = torch.Generator().manual_seed(2)
    z1 = torch.randn(*shape, generator=g).double() * 0.7
    z2 = torch.randn(*shape, generator=g).double() * 1.3
    loss, inv, var, cov = vicreg_loss(z1, z2, *weights)
    r_loss, r_inv, r_var, r_cov = ref_vicreg(z1, z2, *weights)
    assert float(inv) == pytest.approx(r_inv, rel=1e-9)
    assert float(var) == pytest.approx(r_var, rel=1e-9, abs=1e-12)
    assert float(cov) == pytest.approx(r_cov, rel=1e-9)
    assert float(loss) == pytest.approx(r_loss, rel=1e-9)


def test_vicreg_gamma_and_eps_reach_the_variance_term():
    g = torch.Generator().manual_seed(3)
    z1, z2 = torch.randn(8, 4, generator=g).double(), torch.randn(8, 4, generator=g).double()
    _, _, var, _ = vicreg_loss(z1, z2, gamma=2.0, eps=1e-2)
    assert float(var) == pytest.approx(ref_vicreg(z1, z2, 1, 1, 1, gamma=2.0, eps=1e-2)[2])


def test_redundancy_losses_reject_bad_input():
    x = torch.randn(4, 3)
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="lambd"):
            barlow_twins_loss(x, x, lambd=bad)
    for name in ("sim_weight", "var_weight", "cov_weight"):
        with pytest.raises(ValueError, match=name):
            vicreg_loss(x, x, **{name: -1.0})
    with pytest.raises(ValueError, match="gamma"):
        vicreg_loss(x, x, gamma=0.0)
    with pytest.raises(ValueError, match="eps"):
        vicreg_loss(x, x, eps=-1e-4)
    with pytest.raises(ValueError, match="at least 2"):
        barlow_twins_loss(x[:1], x[:1])
    with pytest.raises(ValueError, match="at least 2"):
        vicreg_loss(x[:1], x[:1])
    with pytest.raises(ValueError, match="must both be"):
        barlow_twins_loss(x, x[:, :2])


@pytest.mark.parametrize("shape", [(2, 1, 3), (7, 3, 5), (10, 4, 6)])
@pytest.mark.parametrize("gamma", [1.0, 0.5])
def test_lead_variance_covariance_is_vicreg_lead_by_lead(shape, gamma):
    g = torch.Generator().manual_seed(4)
    z = torch.randn(*shape, generator=g).double() * 0.8
    variance, covariance = lead_variance_covariance(z, gamma=gamma)
    n_leads = shape[1]
    # ref_vicreg averages the variance of its two inputs and sums their covariances.
    refs = [ref_vicreg(z[:, lead], z[:, lead], 0, 1, 1, gamma=gamma) for lead in range(n_leads)]
    assert float(variance) == pytest.approx(_mean([r[2] for r in refs]), rel=1e-9, abs=1e-12)
    assert float(covariance) == pytest.approx(_mean([r[3] / 2 for r in refs]), rel=1e-9)


def test_lead_variance_covariance_is_zero_for_unit_variance_decorrelated_leads():
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]]).double() * 2
    variance, covariance = lead_variance_covariance(torch.stack([z, -z], dim=1))
    assert float(variance) == 0.0
    assert float(covariance) == pytest.approx(0.0, abs=1e-12)


def test_lead_variance_covariance_rejects_bad_input():
    with pytest.raises(ValueError, match="batch, leads, dim"):
        lead_variance_covariance(torch.randn(4, 3))
    with pytest.raises(ValueError, match="at least 2"):
        lead_variance_covariance(torch.randn(1, 2, 3))
    with pytest.raises(ValueError, match="gamma"):
        lead_variance_covariance(torch.randn(4, 2, 3), gamma=0.0)


@pytest.mark.parametrize("shape", [(2, 2, 1), (7, 3, 5), (10, 4, 6)])
def test_cross_lead_covariance_matches_loop_reference(shape):
    g = torch.Generator().manual_seed(6)
    z = torch.randn(*shape, generator=g).double() * 0.7
    n, leads, d = shape
    zc = z - z.mean(dim=0)
    total = 0.0
    for lead in range(leads):
        for other in range(leads):
            if other == lead:
                continue
            for i in range(d):
                for j in range(d):
                    cov = sum(float(zc[b, lead, i] * zc[b, other, j]) for b in range(n)) / (n - 1)
                    total += cov * cov
    assert float(cross_lead_covariance(z)) == pytest.approx(total / (leads * d), rel=1e-9)


def test_cross_lead_covariance_sees_only_what_leads_share():
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]]).double()
    # Lead 2 holds the other lead's features swapped in order: fully shared, large.
    shared = cross_lead_covariance(torch.stack([z, z.flip(1)], dim=1))
    # Lead 2 a function of nothing lead 1 carries (the product of its features): zero.
    apart = cross_lead_covariance(torch.stack([z, (z[:, :1] * z[:, 1:]).repeat(1, 2)], dim=1))
    assert float(shared) > 1.0
    assert float(apart) == pytest.approx(0.0, abs=1e-12)
    # Within-lead correlation is not its business (lead_variance_covariance's ``c`` is).
    same = torch.stack([z[:, :1].repeat(1, 2), (z[:, :1] * z[:, 1:]).repeat(1, 2)], dim=1)
    assert float(cross_lead_covariance(same)) == pytest.approx(0.0, abs=1e-12)


def test_cross_lead_covariance_rejects_bad_input():
    with pytest.raises(ValueError, match="batch, leads, dim"):
        cross_lead_covariance(torch.randn(4, 3))
    with pytest.raises(ValueError, match="at least 2"):
        cross_lead_covariance(torch.randn(1, 2, 3))
