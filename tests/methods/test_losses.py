"""Each loss against a slow reference written out with explicit loops."""

from __future__ import annotations

import math

import pytest
import torch

from ecgssl.methods.losses import bell_loss, byol_loss, nt_xent_loss


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a @ b) / (a.norm() * b.norm()))


def ref_byol(p: torch.Tensor, z: torch.Tensor) -> float:
    return sum(2 - 2 * _cos(p[n], z[n]) for n in range(p.shape[0])) / p.shape[0]


def ref_bell(
    p: torch.Tensor, z: torch.Tensor, gamma: float, pairs=None
) -> tuple[float, float, float]:
    b, n_leads, _ = p.shape
    intra = 0.0
    for n in range(b):
        for i in range(n_leads):
            intra += 2 - 2 * _cos(p[n, i], z[n, i])
    intra /= b * n_leads
    if pairs is None:
        pairs = [(i, j) for i in range(n_leads) for j in range(n_leads) if i != j]
    inter = 0.0
    for n in range(b):
        for i, j in pairs:
            inter += 2 - 2 * _cos(p[n, i], z[n, j])
    inter /= b * len(pairs)
    return gamma * intra + (1 - gamma) * inter, intra, inter


def ref_nt_xent(z1: torch.Tensor, z2: torch.Tensor, t: float) -> float:
    z = torch.cat([z1, z2])
    n2 = z.shape[0]
    n = n2 // 2
    total = 0.0
    for a in range(n2):
        pos = a + n if a < n else a - n
        denom = sum(math.exp(_cos(z[a], z[k]) / t) for k in range(n2) if k != a)
        total += -math.log(math.exp(_cos(z[a], z[pos]) / t) / denom)
    return total / n2


@pytest.mark.parametrize("shape", [(1, 3), (5, 8), (16, 32)])
def test_byol_loss_matches_reference(shape):
    g = torch.Generator().manual_seed(0)
    p, z = torch.randn(*shape, generator=g), torch.randn(*shape, generator=g)
    assert float(byol_loss(p, z)) == pytest.approx(ref_byol(p, z), abs=1e-5)


@pytest.mark.parametrize("shape", [(2, 4), (7, 16), (32, 8)])
@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_nt_xent_matches_reference(shape, temperature):
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(*shape, generator=g), torch.randn(*shape, generator=g)
    assert float(nt_xent_loss(z1, z2, temperature)) == pytest.approx(
        ref_nt_xent(z1.double(), z2.double(), temperature), rel=1e-4
    )


@pytest.mark.parametrize("shape", [(1, 2, 4), (4, 3, 8), (6, 12, 16)])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.8, 1.0])
def test_bell_loss_matches_reference(shape, gamma):
    g = torch.Generator().manual_seed(2)
    p, z = torch.randn(*shape, generator=g), torch.randn(*shape, generator=g)
    loss, intra, inter = bell_loss(p, z, gamma)
    r_loss, r_intra, r_inter = ref_bell(p.double(), z.double(), gamma)
    assert float(intra) == pytest.approx(r_intra, abs=1e-5)
    assert float(inter) == pytest.approx(r_inter, abs=1e-5)
    assert float(loss) == pytest.approx(r_loss, abs=1e-5)


def test_bell_loss_with_given_pairs_matches_reference():
    g = torch.Generator().manual_seed(3)
    p, z = torch.randn(5, 6, 8, generator=g), torch.randn(5, 6, 8, generator=g)
    pairs = [(0, 3), (5, 1)]
    loss, _, inter = bell_loss(p, z, 0.3, torch.tensor(pairs))
    r_loss, _, r_inter = ref_bell(p.double(), z.double(), 0.3, pairs)
    assert float(inter) == pytest.approx(r_inter, abs=1e-5)
    assert float(loss) == pytest.approx(r_loss, abs=1e-5)


def test_bell_gamma_one_is_per_lead_byol():
    g = torch.Generator().manual_seed(4)
    p, z = torch.randn(8, 12, 16, generator=g), torch.randn(8, 12, 16, generator=g)
    loss, _, _ = bell_loss(p, z, gamma=1.0)
    per_lead = torch.stack([byol_loss(p[:, i], z[:, i]) for i in range(12)]).mean()
    assert float(loss) == pytest.approx(float(per_lead), abs=1e-6)


def test_losses_reject_bad_input():
    x = torch.randn(4, 3, 8)
    with pytest.raises(ValueError, match="gamma"):
        bell_loss(x, x, gamma=1.5)
    with pytest.raises(ValueError, match="gamma"):
        bell_loss(x, x, gamma=-0.1)
    with pytest.raises(ValueError, match="at least 2 leads"):
        bell_loss(x[:, :1], x[:, :1], gamma=0.5)
    with pytest.raises(ValueError, match="i != j"):
        bell_loss(x, x, 0.5, torch.tensor([[1, 1]]))
    with pytest.raises(ValueError, match=r"shape|must both"):
        bell_loss(x, x[:, :2], 0.5)
    with pytest.raises(ValueError, match="temperature"):
        nt_xent_loss(x[:, 0], x[:, 0], temperature=0.0)
    with pytest.raises(ValueError, match="temperature"):
        nt_xent_loss(x[:, 0], x[:, 0], temperature=-1.0)
    with pytest.raises(ValueError, match="at least 2"):
        nt_xent_loss(x[:1, 0], x[:1, 0])


def _all_losses():
    from ecgssl.methods import losses as L

    g = torch.Generator().manual_seed(7)
    a, b = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    la, lb = torch.randn(6, 3, 8, generator=g), torch.randn(6, 3, 8, generator=g)
    return [
        ("byol", lambda: L.byol_loss(a, b)),
        ("negative_cosine", lambda: L.negative_cosine_loss(a, b)),
        ("nt_xent", lambda: L.nt_xent_loss(a, b)),
        ("moco_v3", lambda: L.moco_v3_loss(a, b)),
        ("clocs", lambda: L.clocs_loss(la)),
        ("barlow_twins", lambda: L.barlow_twins_loss(a, b)),
        ("vicreg", lambda: L.vicreg_loss(a, b)[0]),
        ("bell", lambda: L.bell_loss(la, lb)[0]),
        ("lead_barlow", lambda: L.lead_barlow_loss(la, lb)[0]),
    ]


@pytest.mark.parametrize("case", range(9))
def test_losses_run_in_float32_under_autocast(case):
    name, compute = _all_losses()[case]
    plain = compute()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = compute()
    assert mixed.dtype == torch.float32, name
    torch.testing.assert_close(mixed, plain, msg=name)


def test_half_precision_inputs_are_upcast_and_keep_gradients():
    p = torch.randn(4, 8, dtype=torch.bfloat16, requires_grad=True)
    z = torch.randn(4, 8, dtype=torch.bfloat16)
    loss = byol_loss(p, z)
    assert loss.dtype == torch.float32
    loss.backward()
    assert p.grad is not None and p.grad.dtype == torch.bfloat16
