"""Fuzz every registered augmentation with hypothesis.

For any parameters its constructor accepts (drawn over the whole documented range), any
sampling rate, batch size, lead count, record length at or above the augmentation's minimum,
float dtype and signal (random, zero, constant, large), the output must be finite, keep the
dtype, device, batch and lead dimensions (and the length, unless the augmentation changes
it), and be reproducible from the generator's seed.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecgssl.augment import Augmentation
from ecgssl.registry import AUGMENTATIONS

# Bounded for CI; ECGSSL_FUZZ_EXAMPLES=2000 for a deeper (random) search locally.
_EXAMPLES = int(os.environ.get("ECGSSL_FUZZ_EXAMPLES", "25"))
FUZZ = settings(
    max_examples=_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize="ECGSSL_FUZZ_EXAMPLES" not in os.environ,
)
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
DTYPES = [torch.float32, torch.float64, torch.bfloat16]


def num(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def pair(lo: float, hi: float) -> st.SearchStrategy[tuple[float, float]]:
    return st.tuples(num(lo, hi), num(lo, hi)).map(lambda ab: (min(ab), max(ab)))


@st.composite
def bandpass(draw: st.DrawFn) -> dict[str, Any]:
    low = draw(pair(0.0, 200.0))
    high = draw(pair(min(low[1] * 1.01 + 1e-3, 1e4), 1e4))
    return {"low_hz": low, "high_hz": high, "order": draw(st.integers(1, 8))}


#: Valid constructor arguments of every leaf augmentation, over their documented ranges.
LEAVES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "amplitude_scale": st.fixed_dictionaries({"scale": pair(0.0, 1e3), "per_lead": st.booleans()}),
    "bandpass": bandpass(),
    "baseline_shift": st.fixed_dictionaries({"max_mv": num(0, 1e3), "per_lead": st.booleans()}),
    "baseline_wander": st.fixed_dictionaries(
        {
            "amplitude_mv": pair(0, 1e3),
            "frequency_hz": pair(0, 1e3),
            "n_components": st.integers(1, 5),
        }
    ),
    "emg_noise": st.fixed_dictionaries({"amplitude_mv": pair(0, 1e3), "band_hz": pair(0, 1e4)}),
    "gaussian_noise": st.fixed_dictionaries(
        {
            "sigma_mv": pair(0, 1e3),
            "snr_db": st.none() | pair(-100, 200),
        }
    ),
    "lead_mask": st.fixed_dictionaries({"p": num(0.0, 0.999)}),
    "lowpass": st.fixed_dictionaries({"high_hz": pair(1e-3, 1e4), "order": st.integers(1, 8)}),
    "powerline_noise": st.fixed_dictionaries(
        {
            "frequency": st.sampled_from([50, 60, "random"]),
            "amplitude_mv": pair(0, 1e3),
            "harmonics": st.integers(0, 4),
        }
    ),
    "random_crop": st.fixed_dictionaries({"seconds": num(1e-3, 2.0)}),
    "random_resized_crop": st.fixed_dictionaries(
        {
            "scale": pair(1e-3, 1.0),
            "seconds": st.none() | num(1e-3, 2.0),
        }
    ),
    "sign_inversion": st.fixed_dictionaries({"p": num(0.0, 1.0)}),
    "time_mask": st.fixed_dictionaries({"fraction": pair(0.0, 1.0)}),
    "time_shift": st.fixed_dictionaries(
        {
            "max_shift": num(0.0, 10.0),
            "mode": st.sampled_from(["circular", "zeros"]),
        }
    ),
    "time_warp": st.fixed_dictionaries({"max_rate_change": num(0, 0.9), "cycles": pair(0, 1e3)}),
    "vcg_rotation": st.fixed_dictionaries({"max_angle": num(0, 180), "scale": pair(1e-3, 1e3)}),
}
LENGTH_CHANGING = {"random_crop", "random_resized_crop"}
TWELVE_LEAD = {"vcg_rotation"}


def leaf(keep_length: bool = False, names: set[str] | None = None) -> st.SearchStrategy[dict]:
    pool = sorted(
        n
        for n in LEAVES
        if (names is None or n in names) and not (keep_length and n in LENGTH_CHANGING)
    )
    return st.sampled_from(pool).flatmap(lambda n: LEAVES[n].map(lambda kw: {"name": n, **kw}))


# Combinators hold leaves that all work with any lead count (VCG only alone).
ANY_LEADS = set(LEAVES) - TWELVE_LEAD
SPECS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    **{n: s.map(lambda kw, n=n: {"name": n, **kw}) for n, s in LEAVES.items()},
    "compose": st.lists(leaf(names=ANY_LEADS), min_size=1, max_size=3).map(
        lambda ts: {"name": "compose", "transforms": ts}
    ),
    "random_apply": st.fixed_dictionaries(
        {
            "name": st.just("random_apply"),
            "transform": leaf(True, ANY_LEADS),
            "p": num(0, 1),
        }
    ),
    "one_of": st.lists(leaf(True, ANY_LEADS), min_size=1, max_size=3).flatmap(
        lambda ts: st.lists(num(0.01, 10), min_size=len(ts), max_size=len(ts)).map(
            lambda w: {"name": "one_of", "transforms": ts, "weights": w}
        )
    ),
}


def test_every_registered_augmentation_is_fuzzed():
    assert set(SPECS) == set(AUGMENTATIONS.list())


@st.composite
def signal_for(draw: st.DrawFn, aug: Augmentation, device: str) -> tuple[torch.Tensor, float]:
    fs = draw(st.sampled_from([50.0, 100.0, 128.0, 250.0, 500.0]) | num(10.0, 600.0))
    n_leads = aug.n_leads or draw(st.integers(1, 12))
    length = max(1, aug.min_length(fs)) + draw(st.integers(0, 300))
    batch = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from(DTYPES))
    kind = draw(st.sampled_from(["random", "zeros", "constant", "large"]))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    x = torch.randn(batch, n_leads, length, generator=g)
    if kind == "zeros":
        x = torch.zeros_like(x)
    elif kind == "constant":
        x = torch.full_like(x, draw(num(-50.0, 50.0)))
    elif kind == "large":
        x = x * 50.0
    return x.to(device=device, dtype=dtype), fs


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(SPECS))
@FUZZ
@given(data=st.data())
def test_augmentation_output_is_finite_and_keeps_shape_dtype_device(name, device, data):
    spec = data.draw(SPECS[name], label="spec")
    aug = AUGMENTATIONS.build(spec)
    x, fs = data.draw(signal_for(aug, device), label="signal")
    seed = data.draw(st.integers(0, 2**31 - 1), label="seed")
    out = aug(x, fs, torch.Generator(device=device).manual_seed(seed))
    assert isinstance(out, torch.Tensor)
    assert out.dtype == x.dtype and out.device == x.device
    assert out.shape[:2] == x.shape[:2]
    if aug.changes_length:
        assert out.shape[-1] >= 1
    else:
        assert out.shape == x.shape
    assert bool(torch.isfinite(out).all()), f"{aug!r} produced NaN/Inf at fs={fs}"
    again = aug(x, fs, torch.Generator(device=device).manual_seed(seed))
    assert torch.equal(out, again), f"{aug!r} is not reproducible from its generator seed"
