"""Every registered augmentation: shape/dtype/device contract, finite output, determinism,
per-sample randomness, and clear errors on bad input."""

from __future__ import annotations

import pytest
import torch

from ecgssl.augment import Augmentation, RandomCrop, TwoViews
from ecgssl.registry import AUGMENTATIONS

FS = 250.0  # above 2 x 60 Hz, so that powerline noise is representable
T = 1250  # 5 s
#: Combinators need children; every other augmentation builds from its defaults.
SPECS: dict[str, dict] = {
    "compose": {"transforms": ["amplitude_scale", "gaussian_noise"]},
    "random_apply": {"transform": "sign_inversion", "p": 0.5},
    "one_of": {"transforms": ["lead_mask", "time_mask"]},
}
NAMES = AUGMENTATIONS.list()


def build(name: str) -> Augmentation:
    aug = AUGMENTATIONS.build({"name": name, **SPECS.get(name, {})})
    assert isinstance(aug, Augmentation)
    return aug


def batch(b: int = 16, leads: int = 12, t: int = T, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, leads, t, generator=g)


def gen(seed: int = 1) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_at_least_fourteen_ecg_augmentations():
    ops = [n for n in NAMES if n not in SPECS]
    assert len(ops) >= 14, ops


@pytest.mark.parametrize("name", NAMES)
def test_augmentation_conformance(name):
    aug = build(name)
    x = batch()
    x_before = x.clone()
    y = aug(x, FS, gen())
    # Contract: (batch, leads, time), same dtype and device, finite; the input is untouched.
    assert y.ndim == 3 and y.shape[:2] == x.shape[:2]
    if not aug.changes_length:
        assert y.shape == x.shape
    assert y.dtype == x.dtype and y.device == x.device
    assert torch.isfinite(y).all()
    torch.testing.assert_close(x, x_before, rtol=0, atol=0)
    # Same generator seed -> same output; another seed -> (almost always) different.
    torch.testing.assert_close(aug(x, FS, gen(1)), y, rtol=0, atol=0)
    assert not torch.equal(aug(x, FS, gen(2)), y)
    # Physical units: the same op runs at 100 Hz and at 500 Hz on 5 s records.
    for fs in (100.0, 500.0):
        y_fs = aug(batch(4, 12, int(5 * fs)), fs, gen())
        assert y_fs.shape[:2] == (4, 12) and torch.isfinite(y_fs).all()
    # The documented docstring says what it simulates (or what it combines).
    assert (type(aug).__doc__ or "").strip()


@pytest.mark.parametrize("name", NAMES)
def test_augmentation_draws_parameters_per_sample(name):
    """Two identical records in one batch get different random parameters."""
    aug = build(name)
    x = batch(32).narrow(0, 0, 1).expand(32, -1, -1).contiguous()
    y = aug(x, FS, gen(5))
    if y.shape == x.shape and torch.equal(y, x):
        pytest.skip(f"{name} left this batch unchanged (probabilistic no-op)")
    differs = [not torch.equal(y[0], y[i]) for i in range(1, 32)]
    assert any(differs), f"{name} applied the same parameters to every sample"


@pytest.mark.parametrize("name", NAMES)
def test_augmentation_rejects_bad_input(name):
    aug = build(name)
    with pytest.raises(ValueError, match=r"\(batch, leads, time\)"):
        aug(torch.randn(12, 500), FS, gen())
    with pytest.raises(TypeError, match="floating"):
        aug(torch.zeros(2, 12, 500, dtype=torch.long), FS, gen())
    with pytest.raises(ValueError, match="fs"):
        aug(batch(2), 0.0, gen())


def test_vcg_rotation_needs_twelve_leads():
    with pytest.raises(ValueError, match="12"):
        AUGMENTATIONS.build("vcg_rotation")(batch(2, 8), FS, gen())


def test_crop_shares_one_window_across_leads():
    # A ramp that is identical on every lead stays identical after the crop.
    t = torch.arange(T, dtype=torch.float32)
    x = t.expand(8, 12, T).contiguous()
    y = RandomCrop(2.0)(x, FS, gen())
    assert y.shape == (8, 12, 500)
    assert torch.equal(y, y[:, :1].expand_as(y))
    starts = y[:, 0, 0]
    assert torch.equal(y[:, 0], starts[:, None] + torch.arange(500.0))  # a contiguous window
    assert len(set(starts.tolist())) > 1  # windows differ between samples


def test_record_shorter_than_crop_is_an_error():
    with pytest.raises(ValueError, match=r"samples|shorter"):
        RandomCrop(2.5)(batch(2, 12, 400), FS, gen())


def test_unknown_augmentation_suggests_close_names():
    with pytest.raises(KeyError, match="gaussian_noise"):
        AUGMENTATIONS.build("gausian_noise")


def test_two_views_differ_and_keep_shapes():
    views = TwoViews([RandomCrop(2.0), "gaussian_noise"])
    v1, v2 = views(batch(), FS, gen())
    assert v1.shape == v2.shape == (16, 12, 500)
    assert not torch.equal(v1, v2)
    assert views.min_length(FS) == 500
