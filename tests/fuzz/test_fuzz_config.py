"""Fuzz configuration parsing with hypothesis: :class:`PretrainConfig` and augmentation specs.

Arbitrary values (wrong types, NaN/Inf, huge or negative numbers, strings, lists) must either
be accepted, giving an object that works, or be refused with a ``ValueError``/``TypeError``
(``KeyError`` for unknown names) whose message names the offending field. Nothing else may
escape (no ``OverflowError``, ``AttributeError``, ``RuntimeError``...). TOML files and the
WFDB/PTB-XL parsers are fuzzed in test_fuzz_parsers.py.
"""

from __future__ import annotations

import inspect
import math
import os
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecgssl.augment import Augmentation
from ecgssl.registry import AUGMENTATIONS, ENCODERS
from ecgssl.training import PretrainConfig

_EXAMPLES = int(os.environ.get("ECGSSL_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    derandomize="ECGSSL_FUZZ_EXAMPLES" not in os.environ,
)  # fmt: skip

# Any JSON/TOML-like value, plus the numbers most likely to break arithmetic. Integers stay
# small or absurdly large (10**30): a value that is accepted must not exhaust memory.
NUMBERS = st.integers(-3, 64) | st.sampled_from([10**4, 10**30, -(10**30)]) | st.floats()
SCALARS = st.none() | st.booleans() | NUMBERS | st.text(max_size=6)
VALUES = (
    SCALARS
    | st.lists(NUMBERS, max_size=3)
    | st.tuples(NUMBERS, NUMBERS)
    | st.dictionaries(st.text(max_size=3), SCALARS, max_size=2)
)

# Encoder hyperparameters: small integers (network sizes), plus the same kinds of junk.
SMALL_VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-2, 12)
    | st.floats()
    | st.text(max_size=4)
    | (st.lists(st.integers(-1, 12), max_size=3))
)


# -- PretrainConfig -----------------------------------------------------------------------------
FIELDS = sorted(PretrainConfig.field_names() - {"resume"})  # resume checks the file system


@FUZZ
@given(st.dictionaries(st.sampled_from(FIELDS), VALUES, min_size=1, max_size=4))
def test_pretrain_config_accepts_or_names_the_bad_field(kwargs: dict[str, Any]) -> None:
    try:
        cfg = PretrainConfig(**kwargs)
    except ValueError as e:
        assert any(name in str(e) for name in kwargs), f"{e} names none of {sorted(kwargs)}"
        return
    # Accepted: the settings are usable as documented and survive a round trip.
    assert cfg.epochs >= 1 and cfg.batch_size >= 1 and cfg.keep_last >= 1
    assert math.isfinite(cfg.lr) and cfg.lr > 0
    assert isinstance(cfg.drop_last, bool) and isinstance(cfg.progress, bool)
    assert PretrainConfig(**cfg.to_dict()) == cfg


# -- augmentation specs -------------------------------------------------------------------------
LEAF_NAMES = ["gaussian_noise", "time_mask", "random_crop", "vcg_rotation", "no_such_aug"]
TRANSFORMS = st.lists(st.sampled_from(LEAF_NAMES) | VALUES, max_size=3)


def _params(name: str) -> list[str]:
    sig = inspect.signature(AUGMENTATIONS.get(name))
    return [p for p in sig.parameters if p != "self"]


@st.composite
def specs(draw: st.DrawFn, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name}
    for param in draw(st.lists(st.sampled_from(_params(name)), unique=True)):
        if param == "transforms":
            spec[param] = draw(TRANSFORMS)
        elif param == "transform":
            spec[param] = draw(st.sampled_from(LEAF_NAMES) | VALUES)
        else:
            spec[param] = draw(VALUES)
    if draw(st.booleans()):
        spec[draw(st.text(min_size=1, max_size=4))] = draw(SCALARS)  # maybe an unknown key
    return spec


@pytest.mark.parametrize("name", AUGMENTATIONS.list())
@FUZZ
@given(data=st.data())
def test_augmentation_spec_is_built_or_refused_cleanly(name: str, data: Any) -> None:
    spec = data.draw(specs(name), label="spec")
    try:
        aug = AUGMENTATIONS.build(spec)
    except (ValueError, TypeError, KeyError):
        return
    assert isinstance(aug, Augmentation)
    # Whatever was accepted must work: finite output of the right shape and dtype.
    fs = 100.0
    length = max(aug.min_length(fs), 64)
    if length > 10_000:  # a long (valid) crop: too big to run here
        return
    x = torch.randn(2, aug.n_leads or 12, length, generator=torch.Generator().manual_seed(0))
    out = aug(x, fs, torch.Generator().manual_seed(1))
    assert out.dtype == x.dtype and out.shape[:2] == x.shape[:2]
    assert aug.changes_length or out.shape == x.shape
    assert bool(torch.isfinite(out).all()), f"{aug!r} produced NaN/Inf"


# -- encoder specs ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ENCODERS.list())
@FUZZ
@given(data=st.data())
def test_encoder_spec_is_built_or_refused_cleanly(name: str, data: Any) -> None:
    params = [p for p in inspect.signature(ENCODERS.get(name)).parameters if p != "self"]
    spec: dict[str, Any] = {"name": name, "n_leads": 3}
    for param in data.draw(st.lists(st.sampled_from(params), unique=True, max_size=3)):
        spec[param] = data.draw(SMALL_VALUES, label=param)
    try:
        enc = ENCODERS.build(spec)
    except (ValueError, TypeError, KeyError):
        return
    if sum(p.numel() for p in enc.parameters()) > 5_000_000:
        return  # a valid but big network: too slow to run here
    x = torch.randn(2, enc.n_leads, max(enc.min_length, enc.input_length or 0, 256))
    out = enc.eval()(x)
    assert out.shape == (2, enc.output_dim) and bool(torch.isfinite(out).all())


# -- command-line KEY=VALUE options -------------------------------------------------------------
@FUZZ
@given(st.lists(st.text(max_size=12), max_size=4))
def test_cli_set_options_parse_or_raise_a_user_error(items: list[str]) -> None:
    from ecgssl.cli import UserError, _parse_sets

    try:
        parsed = _parse_sets(items)
    except UserError as e:
        assert "KEY=VALUE" in str(e)
        return
    assert set(parsed) <= {i.partition("=")[0].strip() for i in items}
