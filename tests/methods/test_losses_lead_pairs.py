"""Lead-pair fusion and lead-wise Barlow Twins against slow references with explicit loops."""

from __future__ import annotations

import pytest
import torch

from ecgssl.methods.losses import barlow_twins_loss, fuse_lead_pairs, lead_barlow_loss


def ref_barlow(z1: torch.Tensor, z2: torch.Tensor, lambd: float, eps: float = 1e-5) -> float:
    """Barlow Twins for one lead pair, standardising and correlating element by element."""
    n, d = z1.shape

    def standardize(z):
        cols = []
        for j in range(d):
            col = [float(z[b, j]) for b in range(n)]
            mu = sum(col) / n
            sd = (sum((c - mu) ** 2 for c in col) / n + eps) ** 0.5
            cols.append([(c - mu) / sd for c in col])
        return cols  # cols[j][b]

    a, b = standardize(z1), standardize(z2)
    loss = 0.0
    for i in range(d):
        for j in range(d):
            c = sum(a[i][k] * b[j][k] for k in range(n)) / n
            loss += (1 - c) ** 2 if i == j else lambd * c**2
    return loss


def ref_fuse(m: torch.Tensor, gamma: float, pairs=None) -> tuple[float, float, float]:
    n = m.shape[0]
    intra = sum(float(m[i, i]) for i in range(n)) / n
    if pairs is None:
        pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    inter = sum(float(m[i, j]) for i, j in pairs) / len(pairs) if pairs else 0.0
    return gamma * intra + (1 - gamma) * inter, intra, inter


def ref_lead_barlow(z1, z2, gamma, lambd, pairs=None) -> tuple[float, float, float]:
    n_leads = z1.shape[1]
    m = torch.zeros(n_leads, n_leads, dtype=torch.float64)
    for i in range(n_leads):
        for j in range(n_leads):
            m[i, j] = ref_barlow(z1[:, i], z2[:, j], lambd)
    return ref_fuse(m, gamma, pairs)


@pytest.mark.parametrize(
    "n_leads, gamma", [(1, 1.0), (2, 0.0), (2, 0.3), (5, 0.0), (5, 0.3), (5, 1.0)]
)
def test_fuse_lead_pairs_matches_reference(n_leads, gamma):
    m = torch.rand(n_leads, n_leads, generator=torch.Generator().manual_seed(0)).double()
    got = fuse_lead_pairs(m, gamma)
    for a, b in zip(got, ref_fuse(m, gamma, [] if n_leads == 1 else None)):
        assert float(a) == pytest.approx(b, rel=1e-12)


@pytest.mark.parametrize("shape", [(2, 2, 3), (5, 3, 4), (8, 4, 6)])
@pytest.mark.parametrize("gamma", [0.0, 0.8, 1.0])
def test_lead_barlow_matches_reference(shape, gamma):
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(*shape, generator=g).double(), torch.randn(*shape, generator=g).double()
    got = lead_barlow_loss(z1, z2, gamma, lambd=0.1)
    for a, b in zip(got, ref_lead_barlow(z1, z2, gamma, 0.1)):
        assert float(a) == pytest.approx(b, rel=1e-9)


def test_lead_barlow_with_given_pairs_matches_reference():
    g = torch.Generator().manual_seed(2)
    z1, z2 = torch.randn(6, 4, 3, generator=g).double(), torch.randn(6, 4, 3, generator=g).double()
    pairs = [(0, 3), (2, 1)]
    got = lead_barlow_loss(z1, z2, 0.4, 0.0051, torch.tensor(pairs))
    for a, b in zip(got, ref_lead_barlow(z1, z2, 0.4, 0.0051, pairs)):
        assert float(a) == pytest.approx(b, rel=1e-9)


def test_lead_barlow_gamma_one_is_per_lead_barlow_twins():
    g = torch.Generator().manual_seed(3)
    z1, z2 = torch.randn(10, 5, 8, generator=g), torch.randn(10, 5, 8, generator=g)
    loss, _, _ = lead_barlow_loss(z1, z2, gamma=1.0)
    per_lead = torch.stack([barlow_twins_loss(z1[:, i], z2[:, i]) for i in range(5)]).mean()
    torch.testing.assert_close(loss, per_lead)


def test_lead_pair_losses_reject_bad_input():
    x = torch.randn(4, 3, 8)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="gamma"):
            lead_barlow_loss(x, x, gamma=bad)
        with pytest.raises(ValueError, match="gamma"):
            fuse_lead_pairs(torch.zeros(3, 3), gamma=bad)
    with pytest.raises(ValueError, match="lambd"):
        lead_barlow_loss(x, x, lambd=0.0)
    with pytest.raises(ValueError, match="at least 2 leads"):
        lead_barlow_loss(x[:, :1], x[:, :1], gamma=0.5)
    with pytest.raises(ValueError, match="at least 2 samples"):
        lead_barlow_loss(x[:1], x[:1])
    with pytest.raises(ValueError, match="i != j"):
        lead_barlow_loss(x, x, 0.5, pairs=torch.tensor([[2, 2]]))
    with pytest.raises(ValueError, match="leads, leads"):
        fuse_lead_pairs(torch.zeros(3, 2))
