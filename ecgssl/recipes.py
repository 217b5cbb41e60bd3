"""Pretraining recipes: a budget, optimiser settings, method options and views chosen together.

A :class:`Recipe` is what :func:`ecgssl.pretrain` uses when the caller does not set the
budget, so that ``ecgssl.pretrain(method="bell")`` trains the way that was measured to pay
off on real ECGs rather than with settings tuned on simulated data. Every built-in recipe
states where it was chosen and what it gave there (``evidence``; ``docs/recipe.md`` has the
tables and the commands that reproduce them).

Budgets are in optimisation steps (see ``PretrainConfig.steps``), with a cap in passes over
the data so that a small dataset is not trained for hundreds of epochs:
``steps = min(recipe.steps, max_epochs x batches per epoch)``.

Example:
    >>> from ecgssl.recipes import get_recipe
    >>> get_recipe("bell").options(n_records=1282)["steps"]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ecgssl.errors import InvalidValueError
from ecgssl.registry import Registry

__all__ = ["RATE_TOLERANCE", "RECIPES", "Recipe", "get_recipe", "list_recipes"]

RECIPES: Registry[Recipe] = Registry("recipe")

#: Records more than this many times faster or slower than a recipe's ``fs`` get a warning.
RATE_TOLERANCE = 2.0


@dataclass(frozen=True)
class Recipe:
    """Settings of one pretraining recipe.

    Attributes:
        method: The SSL method the recipe is for.
        steps: Optimisation steps on a large enough dataset.
        max_epochs: At most this many passes over the training records (small datasets).
        batch_size: Records per step.
        lr: Peak learning rate (AdamW).
        weight_decay: Decoupled weight decay.
        warmup_fraction: Linear warm-up as a fraction of the steps.
        window_seconds: Length of the training crops.
        augmentation: Strength of :func:`ecgssl.augment.ssl_policy`.
        method_options: Method hyperparameters (e.g. BELL's ``base_momentum``).
        evidence: Where the recipe was chosen and what it gave there.
        fs: Sampling rate (Hz) of the records the recipe was chosen on. The encoders' kernels
            and strides are in samples, so the same recipe on records at another rate sees a
            different span of time per receptive field (:meth:`rate_warning`).
    """

    method: str
    steps: int = 1000
    max_epochs: float = 100.0
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.05
    window_seconds: float = 2.5
    augmentation: str = "default"
    method_options: Mapping[str, Any] = field(default_factory=dict)
    evidence: str = ""
    fs: float = 100.0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InvalidValueError(f"{name} must be an integer >= 1, got {v!r}")
        for name in ("max_epochs", "lr", "window_seconds", "fs"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise InvalidValueError(f"{name} must be a finite number > 0, got {v!r}")
        if not 0 <= self.warmup_fraction < 1:
            raise InvalidValueError(
                f"warmup_fraction must lie in [0, 1), got {self.warmup_fraction}"
            )
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise InvalidValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        object.__setattr__(self, "method_options", MappingProxyType(dict(self.method_options)))

    def batch_for(self, n_records: int) -> int:
        """The batch size for ``n_records`` records (never more than there are)."""
        if n_records < 1:
            raise InvalidValueError(f"n_records must be >= 1, got {n_records}")
        return min(self.batch_size, n_records)

    def budget(self, n_records: int) -> int:
        """Optimisation steps for ``n_records`` training records."""
        per_epoch = max(1, n_records // self.batch_for(n_records))
        return max(1, min(self.steps, math.ceil(self.max_epochs * per_epoch)))

    def options(self, n_records: int) -> dict[str, Any]:
        """Training settings (``PretrainConfig`` fields) and method options for a dataset of
        ``n_records`` training records."""
        steps = self.budget(n_records)
        return {
            "steps": steps,
            "warmup_steps": round(self.warmup_fraction * steps),
            "batch_size": self.batch_for(n_records),
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            **self.method_options,
        }

    def rate_warning(
        self, fs: float | None, how: str = "load_dataset(..., fs={fs:g})", what: str = ""
    ) -> str | None:
        """A warning when records at ``fs`` Hz are far from the rate the recipe was chosen at.

        More than :data:`RATE_TOLERANCE` times faster or slower gives a message naming both
        rates and how to resample (``how``, formatted with the recipe's rate; ``what`` names
        the recipe, by default ``"the '<method>' recipe"``); otherwise, or when ``fs`` is
        unknown, ``None``. On LUDB's four common rhythms an untrained multi-branch encoder
        scored 0.645 at 500 Hz and 0.738 at 100 Hz (``docs/recipe.md``).
        """
        if fs is None or not math.isfinite(fs) or fs <= 0:
            return None
        if max(fs / self.fs, self.fs / fs) <= RATE_TOLERANCE:
            return None
        return (
            f"{what or f'the {self.method!r} recipe'} was chosen on records sampled at "
            f"{self.fs:g} Hz and these are at {fs:g} Hz: the encoder's kernels and strides are "
            f"in samples, so its receptive field spans {self.fs / fs:.2g}x the time it did "
            f"there; resample to {self.fs:g} Hz ({how.format(fs=self.fs)}) to train as measured"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description (stored in the run's metadata)."""
        return {
            "method": self.method, "steps": self.steps, "max_epochs": self.max_epochs,
            "batch_size": self.batch_size, "lr": self.lr, "weight_decay": self.weight_decay,
            "warmup_fraction": self.warmup_fraction, "window_seconds": self.window_seconds,
            "augmentation": self.augmentation, "method_options": dict(self.method_options),
            "fs": self.fs,
        }  # fmt: skip


def _register(name: str, recipe: Recipe) -> None:
    RECIPES.register(name)(lambda: recipe)


def get_recipe(method: str) -> Recipe:
    """The registered recipe of ``method`` (``UnknownNameError`` listing the recipes if none)."""
    recipe = RECIPES.build(method)
    assert isinstance(recipe, Recipe)
    return recipe


def list_recipes() -> list[str]:
    """Methods that have a registered recipe."""
    return RECIPES.list()


# -- built-in recipes ------------------------------------------------------------------------
# Chosen on real PTB-XL (benchmarks/ptbxl_dev.py: pretrain on strat folds 1-7, every choice on
# fold 8) and reported once on fold 9; tables in benchmarks/results/ptbxl-dev-ablations/ and
# benchmarks/results/ptbxl-dev/, discussion in docs/recipe.md.
#: The budget every built-in recipe shares (and ``ecgssl compare`` gives every method).
SHARED_BUDGET: dict[str, Any] = {"steps": 1000, "max_epochs": 50.0, "batch_size": 64, "lr": 1e-3}
_BUDGET_EVIDENCE = (
    "Budget chosen with BELL on PTB-XL fold 8 (docs/recipe.md): at equal compute, batch 64 x "
    "500 steps matched batch 128 x 500 steps and beat batch 128 x 250 steps, so the recipe "
    "spends its compute on steps: 1000 steps at batch 64 (50 epochs of 1,282 records, about "
    "7.5 min on 2 CPU cores at 0.45 s per step); 1500 steps gained 0.003 more (below the seed "
    "noise); lr 3e-3, EMA 0.97/0.99, random-resized crops and adding the HCE recordings did "
    "not help there."
)
_register("bell", Recipe(
    "bell", **SHARED_BUDGET, method_options={"var_weight": 4.0, "cov_weight": 4.0},
    evidence=_BUDGET_EVIDENCE + " BELL keeps gamma 0.8 and EMA 0.996 -> 1 (cosine over the "
    "steps) and adds VICReg's variance and covariance terms, lead by lead, on the online "
    "projections: on fold 8 at 1000 steps the 10 %-label gain over random init went from "
    "+0.033 (weights 0) to +0.038 (1, 0.04), +0.040 (1, 1), +0.041 (1, 4), +0.046 (4, 4), "
    "+0.043 (16, 4) and +0.044 (16, 16), and the embeddings' effective rank from 42 to 48-55: "
    "weights 4 and 4. Set both to 0 for the paper's BELL.",
))  # fmt: skip
_register("lead_barlow", Recipe(
    "lead_barlow", **SHARED_BUDGET,
    evidence=_BUDGET_EVIDENCE + " lead_barlow was the strongest method on fold 8 at the "
    "ablation budget (+0.034 over random init at 10 % labels, 250 steps).",
))  # fmt: skip
# Per-method choices, each on fold 8 at half the recipe's steps (500 x 64, seed 0, gain over
# random init of the 10 %-label linear probe, mean of 5 label samples; rows *-b64s500-* of
# benchmarks/results/ptbxl-dev-ablations/). Rule: keep the method's published default unless
# an alternative is better by more than the seed noise (~0.005) or is cheaper and not worse.
_register("byol", Recipe(
    "byol", **SHARED_BUDGET,
    evidence=_BUDGET_EVIDENCE + " BYOL on fold 8: EMA 0.996 +0.021, 0.99 +0.020: keeps "
    "0.996 -> 1 (cosine over the steps).",
))  # fmt: skip
_register("simclr", Recipe(
    "simclr", **SHARED_BUDGET,
    evidence=_BUDGET_EVIDENCE + " SimCLR on fold 8: temperature 0.1 +0.019, 0.2 +0.016, "
    "0.5 +0.012: keeps 0.1.",
))  # fmt: skip
_register("vicreg", Recipe(
    "vicreg", **SHARED_BUDGET, method_options={"proj_hidden_dim": 1024, "proj_dim": 1024},
    evidence=_BUDGET_EVIDENCE + " VICReg on fold 8: expander 2048 +0.025, 1024 +0.027 "
    "(17 % less pretraining time): expander 1024.",
))  # fmt: skip
for _name in ("barlow_twins", "clocs", "simsiam", "moco_v3"):
    _register(_name, Recipe(
        _name, **SHARED_BUDGET,
        evidence=_BUDGET_EVIDENCE + f" {_name}'s own options are its defaults: not tuned on "
        "real data.",
    ))  # fmt: skip
