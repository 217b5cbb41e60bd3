"""Recipes: budgets scaled to the data, explicit settings win, helpful errors."""

from __future__ import annotations

import pytest

import ecgssl
from ecgssl.recipes import RECIPES, Recipe, get_recipe, list_recipes
from ecgssl.registry import UnknownNameError

from .test_api import TINY, toy_dataset


def test_budget_scales_with_the_data():
    r = Recipe("bell", steps=1000, max_epochs=50, batch_size=128, warmup_fraction=0.1)
    assert r.budget(1282) == 500  # 10 batches per epoch x 50 epochs < 1000 steps
    assert r.budget(100_000) == 1000  # large data: the full step budget
    small = r.options(40)  # never a batch larger than the data
    assert small["batch_size"] == 40 and small["steps"] == 50 and small["warmup_steps"] == 5
    with pytest.raises(ValueError, match="n_records"):
        r.budget(0)


@pytest.mark.parametrize(
    ("field", "value"),
    [("steps", 0), ("batch_size", 1.5), ("lr", -1.0), ("max_epochs", float("nan")),
     ("warmup_fraction", 1.0), ("weight_decay", -0.1)],
)  # fmt: skip
def test_bad_values_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        Recipe("bell", **{field: value})


def test_recipe_options_are_read_only():
    r = Recipe("bell", method_options={"base_momentum": 0.99})
    with pytest.raises(TypeError):
        r.method_options["base_momentum"] = 0.5  # type: ignore[index]


def test_registered_recipes_cover_the_main_methods():
    for m in ("bell", "byol", "simclr", "vicreg"):
        assert m in list_recipes()
        r = get_recipe(m)
        assert r.method == m and r.evidence
    with pytest.raises(UnknownNameError, match="bell"):
        get_recipe("bel")
    assert len(RECIPES) >= 4


def test_pretrain_applies_the_recipe_and_explicit_settings_win():
    ds = toy_dataset()  # 30 training records
    r = Recipe("byol", steps=6, batch_size=8, lr=2e-3, method_options={"base_momentum": 0.9})
    res = ecgssl.pretrain("byol", ds, TINY, recipe=r, device="cpu", progress=False,
                          window_seconds=3.0)  # fmt: skip
    assert res.history[-1]["step"] == 6 and res.config.lr == 2e-3
    assert res.method.hparams["base_momentum"] == 0.9
    res = ecgssl.pretrain("byol", ds, TINY, recipe=r, epochs=1, base_momentum=0.5, lr=1e-3,
                          device="cpu", progress=False, window_seconds=3.0)  # fmt: skip
    assert res.config.steps is None and res.history[-1]["step"] == 3  # the caller's budget
    assert res.method.hparams["base_momentum"] == 0.5 and res.config.lr == 1e-3
    res = ecgssl.pretrain("byol", ds, TINY, recipe=None, epochs=1, batch_size=8, device="cpu",
                          progress=False, window_seconds=3.0)  # fmt: skip
    assert res.method.hparams["base_momentum"] == 0.996  # plain defaults


def test_recipe_for_another_method_is_refused():
    with pytest.raises(ValueError, match="cannot train"):
        ecgssl.pretrain("simclr", toy_dataset(), TINY, recipe=Recipe("bell"), device="cpu")


def test_bell_recipe_regularises_and_the_paper_bell_is_one_setting_away():
    options = get_recipe("bell").options(1282)
    assert options["var_weight"] > 0 and options["cov_weight"] > 0
    ds = toy_dataset()
    res = ecgssl.pretrain("bell", ds, TINY, steps=2, batch_size=8, device="cpu", progress=False,
                          window_seconds=3.0)  # fmt: skip
    assert res.method.hparams["var_weight"] == options["var_weight"]
    assert res.history[-1]["variance"] >= 0 and res.history[-1]["covariance"] >= 0  # logged
    res = ecgssl.pretrain("bell", ds, TINY, steps=2, batch_size=8, var_weight=0.0,
                          cov_weight=0.0, device="cpu", progress=False, window_seconds=3.0)  # fmt: skip
    assert res.method.hparams["var_weight"] == 0.0 and res.method.hparams["cov_weight"] == 0.0
    assert "variance" not in res.history[-1]


def test_records_far_from_the_recipe_rate_are_flagged():
    """A recipe chosen at 100 Hz says so on 500-Hz records (LUDB's native rate), names both
    rates and how to resample; within a factor 2 (or an unknown rate) it says nothing."""
    r = Recipe("bell")
    assert r.fs == 100.0 and r.to_dict()["fs"] == 100.0
    message = r.rate_warning(500.0)
    assert message is not None
    assert "100 Hz" in message and "500 Hz" in message and "fs=100" in message
    assert "0.2x" in message  # the receptive field spans a fifth of the time
    assert "fs=100 on the CLI" in str(r.rate_warning(500.0, how="fs={fs:g} on the CLI"))
    assert r.rate_warning(25.0) is not None
    for fs in (50.0, 100.0, 200.0, None, float("nan")):
        assert r.rate_warning(fs) is None
    with pytest.raises(ValueError, match="fs"):
        Recipe("bell", fs=0.0)


def test_pretrain_warns_when_the_data_rate_is_far_from_the_recipe(recwarn):
    ds = toy_dataset()  # 50 Hz: within a factor 2 of the recipes' 100 Hz
    ecgssl.pretrain("simclr", ds, TINY, steps=1, batch_size=8, device="cpu", progress=False,
                    window_seconds=3.0)  # fmt: skip
    assert not [w for w in recwarn if "sampled at" in str(w.message)]
    with pytest.warns(UserWarning, match=r"sampled at 400 Hz and these are at 50 Hz.*fs=400\)"):
        ecgssl.pretrain("simclr", ds, TINY, steps=1, batch_size=8, device="cpu",
                        progress=False, window_seconds=3.0, recipe=Recipe("simclr", fs=400.0))  # fmt: skip
