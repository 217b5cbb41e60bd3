"""SimSiam, MoCo v3 and CLOCS losses against slow references written out with explicit loops."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from ecgssl.methods.losses import clocs_loss, moco_v3_loss, negative_cosine_loss


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a @ b) / (a.norm() * b.norm()))


def ref_negative_cosine(p: torch.Tensor, z: torch.Tensor) -> float:
    return -sum(_cos(p[n], z[n]) for n in range(p.shape[0])) / p.shape[0]


def ref_moco_v3(q: torch.Tensor, k: torch.Tensor, t: float) -> float:
    n = q.shape[0]
    total = 0.0
    for a in range(n):
        denom = sum(math.exp(_cos(q[a], k[m]) / t) for m in range(n))
        total += -math.log(math.exp(_cos(q[a], k[a]) / t) / denom)
    return 2 * t * total / n


def ref_clocs(e: torch.Tensor, t: float, pids=None) -> float:
    b, n_views, _ = e.shape
    pids = list(range(b)) if pids is None else list(pids)
    pair_losses = []
    for va, vb in itertools.combinations(range(n_views), 2):
        directions = []
        for x, y in ((va, vb), (vb, va)):  # anchors in view x, candidates in view y
            per_anchor = []
            for n in range(b):
                denom = sum(math.exp(_cos(e[n, x], e[k, y]) / t) for k in range(b))
                positives = [m for m in range(b) if pids[m] == pids[n]]
                terms = [-math.log(math.exp(_cos(e[n, x], e[m, y]) / t) / denom) for m in positives]
                per_anchor.append(sum(terms) / len(terms))
            directions.append(sum(per_anchor) / b)
        pair_losses.append(sum(directions) / 2)
    return sum(pair_losses) / len(pair_losses)


@pytest.mark.parametrize("shape", [(1, 3), (5, 8), (16, 32)])
def test_negative_cosine_matches_reference(shape):
    g = torch.Generator().manual_seed(0)
    p, z = torch.randn(*shape, generator=g), torch.randn(*shape, generator=g)
    assert float(negative_cosine_loss(p, z)) == pytest.approx(ref_negative_cosine(p, z), abs=1e-5)


@pytest.mark.parametrize("shape", [(2, 4), (7, 16), (24, 8)])
@pytest.mark.parametrize("temperature", [0.2, 1.0])
def test_moco_v3_matches_reference(shape, temperature):
    g = torch.Generator().manual_seed(1)
    q, k = torch.randn(*shape, generator=g).double(), torch.randn(*shape, generator=g).double()
    assert float(moco_v3_loss(q, k, temperature)) == pytest.approx(
        ref_moco_v3(q, k, temperature), rel=1e-9
    )


@pytest.mark.parametrize("shape", [(2, 2, 4), (6, 3, 8), (9, 5, 6)])
@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_clocs_matches_reference(shape, temperature):
    g = torch.Generator().manual_seed(2)
    e = torch.randn(*shape, generator=g).double()
    assert float(clocs_loss(e, temperature)) == pytest.approx(ref_clocs(e, temperature), rel=1e-9)


@pytest.mark.parametrize("pids", [[0, 1, 0, 2, 1, 0], [3, 3, 3, 3, 3, 3], [0, 1, 2, 3, 4, 5]])
def test_clocs_with_patient_ids_matches_reference(pids):
    g = torch.Generator().manual_seed(3)
    e = torch.randn(6, 3, 8, generator=g).double()
    got = clocs_loss(e, 0.1, torch.tensor(pids))
    assert float(got) == pytest.approx(ref_clocs(e, 0.1, pids), rel=1e-9)


def test_clocs_distinct_patients_equal_no_patient_ids():
    e = torch.randn(5, 2, 4, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(clocs_loss(e, 0.1, torch.arange(5) * 7), clocs_loss(e, 0.1))


def test_clocs_two_views_is_symmetric_cross_view_infonce():
    # With two views, CLOCS is the average of the two directions of a cross-view InfoNCE,
    # i.e. MoCo v3's loss without its 2*tau factor.
    g = torch.Generator().manual_seed(5)
    a, b = torch.randn(7, 8, generator=g).double(), torch.randn(7, 8, generator=g).double()
    t = 0.3
    expected = (moco_v3_loss(a, b, t) + moco_v3_loss(b, a, t)) / (2 * 2 * t)
    torch.testing.assert_close(clocs_loss(torch.stack([a, b], dim=1), t), expected)


def test_contrastive_losses_reject_bad_input():
    x = torch.randn(4, 8)
    for bad in (0.0, -0.1):
        with pytest.raises(ValueError, match="temperature"):
            moco_v3_loss(x, x, temperature=bad)
        with pytest.raises(ValueError, match="temperature"):
            clocs_loss(x.view(4, 2, 4), temperature=bad)
    with pytest.raises(ValueError, match="at least 2"):
        moco_v3_loss(x[:1], x[:1])
    with pytest.raises(ValueError, match="at least 2 views"):
        clocs_loss(x.view(4, 1, 8))
    with pytest.raises(ValueError, match="at least 2 records"):
        clocs_loss(x[:1].view(1, 2, 4))
    with pytest.raises(ValueError, match="patient_ids"):
        clocs_loss(x.view(4, 2, 4), patient_ids=torch.arange(3))
    with pytest.raises(ValueError, match="batch, views, dim"):
        clocs_loss(x)
    with pytest.raises(ValueError, match="must both be"):
        negative_cosine_loss(x, x[:, :2])
