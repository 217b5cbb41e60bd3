"""The fast paths give the same output as the plain ones.

``RandomApply`` folds its mask into elementwise ops' parameters and ``Compose`` lets them
write into buffers an earlier op created; both must equal "run the op on the whole batch,
then select with ``torch.where``", and neither may touch the caller's tensor. The
grid-sample interpolation behind crops and warps is checked against ``numpy.interp``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgssl.augment import (
    Augmentation,
    Compose,
    RandomApply,
    RandomCrop,
    RandomResizedCrop,
    TimeWarp,
    ssl_policy,
)
from ecgssl.augment.base import ElementwiseAugmentation, rand
from ecgssl.augment.crop import interpolate_time, resample_windows
from ecgssl.registry import AUGMENTATIONS

FS = 250.0
ELEMENTWISE = sorted(
    name
    for name in AUGMENTATIONS.list()
    if isinstance(AUGMENTATIONS.get(name), type)
    and issubclass(AUGMENTATIONS.get(name), ElementwiseAugmentation)
)


def batch(b: int = 16, t: int = 1000, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, 12, t, generator=torch.Generator().manual_seed(seed))


def test_the_elementwise_ops_are_the_expected_ones():
    expected = {"amplitude_scale", "baseline_shift", "baseline_wander", "emg_noise"}
    expected |= {"gaussian_noise", "lead_mask", "powerline_noise", "sign_inversion"}
    expected |= {"time_mask"}
    assert expected <= set(ELEMENTWISE)


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("p", [0.3, 0.7])
def test_random_apply_fast_path_equals_where_select(name, p):
    op = AUGMENTATIONS.build(name)
    x = batch()
    fast = RandomApply(op, p)(x, FS, torch.Generator().manual_seed(3))
    # The plain path, written out: the op on the whole batch, then a per-sample mask.
    g = torch.Generator().manual_seed(3)
    full = Augmentation.__call__(op, x, FS, g)
    mask = rand((x.shape[0], 1, 1), g, x.device) < p
    slow = torch.where(mask, full, x)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-6)
    # Some samples kept, some changed: the mask really selects.
    changed = (fast != x).flatten(1).any(1)
    assert changed.any() and not changed.all()


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_in_place_after_a_crop_equals_out_of_place(name):
    op = AUGMENTATIONS.build(name)
    x = batch()
    before = x.clone()
    fused = Compose([RandomCrop(2.0), op, RandomApply(op, 0.5)])(
        x, FS, torch.Generator().manual_seed(5)
    )
    g = torch.Generator().manual_seed(5)
    y = RandomCrop(2.0)(x, FS, g)
    y = op(y, FS, g)
    full = op(y, FS, g)
    plain = torch.where(rand((x.shape[0], 1, 1), g, x.device) < 0.5, full, y)
    torch.testing.assert_close(fused, plain, rtol=0, atol=1e-6)
    assert torch.equal(x, before), "the caller's tensor was modified"


@pytest.mark.parametrize("strength", ["weak", "default", "strong"])
def test_pipelines_never_modify_their_input(strength):
    for pipeline in (ssl_policy(2.5, strength), ssl_policy(None, strength)):
        x = batch()
        before = x.clone()
        out = pipeline(x, FS, torch.Generator().manual_seed(0))
        assert torch.equal(x, before)
        assert not torch.equal(out, x[..., : out.shape[-1]])  # the views are augmented


def test_a_view_of_the_input_is_not_written_into():
    """A first op that returns the input itself (p = 0) must not make the next one in place."""
    x = batch()
    before = x.clone()
    Compose([RandomApply("time_mask", p=0.0), "amplitude_scale"])(x, FS, torch.Generator())
    assert torch.equal(x, before)


def _np_interp(x: torch.Tensor, pos: torch.Tensor) -> np.ndarray:
    xs, ps = x.double().numpy(), pos.double().numpy()
    grid = np.arange(xs.shape[-1])
    return np.stack([[np.interp(ps[b], grid, xs[b, lead]) for lead in range(xs.shape[1])]
                     for b in range(xs.shape[0])])  # fmt: skip


@pytest.mark.parametrize("t", [2, 7, 1000, 5000])
def test_interpolate_time_matches_numpy(t):
    g = torch.Generator().manual_seed(t)
    x = torch.randn(5, 3, t, generator=g)
    pos = torch.rand(5, 64, generator=g) * (t - 1)
    pos[:, 0], pos[:, 1] = 0.0, float(t - 1)  # both ends exactly
    out = interpolate_time(x, pos)
    assert out.shape == (5, 3, 64) and out.dtype == x.dtype
    # float32 grid coordinates: positions exact to ~1e-7 x t samples, times the local slope.
    np.testing.assert_allclose(out.numpy(), _np_interp(x, pos), atol=2e-7 * t * 6, rtol=0)
    x64 = x.double()
    np.testing.assert_allclose(interpolate_time(x64, pos).numpy(), _np_interp(x64, pos),
                               atol=1e-10, rtol=0)  # fmt: skip


def test_interpolate_time_keeps_low_precision_dtypes():
    x = torch.randn(2, 12, 100).to(torch.bfloat16)
    out = interpolate_time(x, torch.linspace(0, 99, 40).expand(2, -1))
    assert out.dtype == torch.bfloat16 and out.shape == (2, 12, 40)


def test_identity_window_returns_the_signal():
    x = batch(4, 500)
    b = x.shape[0]
    out = resample_windows(x, torch.zeros(b), torch.full((b,), 500.0), 500)
    # exact up to float32 grid coordinates (~1e-7 x 500 samples, times slopes up to ~6)
    torch.testing.assert_close(out, x, atol=4e-4, rtol=0)
    exact = resample_windows(x.double(), torch.zeros(b), torch.full((b,), 500.0), 500)
    torch.testing.assert_close(exact, x.double(), atol=1e-12, rtol=0)


@pytest.mark.parametrize("aug", [RandomResizedCrop((0.5, 1.0), seconds=2.0), TimeWarp(0.3)])
def test_resampling_ops_match_numpy_on_a_smooth_signal(aug):
    """A sine resampled at the op's positions stays a sine: compare with the exact values."""
    t = torch.arange(1000) / FS
    x = torch.sin(2 * torch.pi * 1.3 * t).expand(3, 12, -1).contiguous()
    out = aug(x, FS, torch.Generator().manual_seed(0))
    assert torch.isfinite(out).all()
    assert out.abs().max() <= 1.0 + 1e-6
    # all leads of a sample share the window
    assert torch.equal(out[:, :1].expand_as(out), out)
