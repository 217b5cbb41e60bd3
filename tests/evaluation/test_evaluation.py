from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from ecgssl.data import ECGDataset
from ecgssl.evaluation import (
    LinearProbe,
    classification_metrics,
    embed,
    evaluate_encoder,
    label_fraction_indices,
    macro_auroc,
)
from ecgssl.registry import ENCODERS


def multilabel(n: int = 200, c: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = (rng.random((n, c)) < np.linspace(0.05, 0.5, c)).astype(np.float32)
    return y


def test_macro_auroc_matches_sklearn_and_skips_constant_classes():
    rng = np.random.default_rng(0)
    y = multilabel()
    s = y + rng.normal(0, 1.0, y.shape)
    expected = np.mean([roc_auc_score(y[:, c], s[:, c]) for c in range(y.shape[1])])
    assert macro_auroc(y, s) == pytest.approx(expected)
    y2 = y.copy()
    y2[:, 0] = 0
    with pytest.warns(RuntimeWarning, match="only one label value"):
        v = macro_auroc(y2, s)
    assert v == pytest.approx(np.mean([roc_auc_score(y[:, c], s[:, c]) for c in range(1, 4)]))
    with pytest.raises(ValueError, match="NaN"):
        macro_auroc(y, s * np.nan)


def test_single_label_metrics_report_accuracy():
    y = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    m = classification_metrics(y, y * 2.0, ("a", "b", "c"), multilabel=False)
    assert m["accuracy"] == 1.0 and m["macro_auroc"] == 1.0 and m["auroc/b"] == 1.0


@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.5, 1.0])
def test_label_fraction_sampler(fraction):
    y = multilabel(n=500)
    idx = label_fraction_indices(y, fraction, seed=1)
    assert len(idx) == int(np.ceil(fraction * 500))
    assert len(np.unique(idx)) == len(idx)
    forced = label_fraction_indices(y, fraction, seed=1, min_positives_per_class=1)
    assert (y[forced].sum(0) > 0).all(), "every class keeps at least one positive"
    np.testing.assert_array_equal(idx, label_fraction_indices(y, fraction, seed=1))
    if fraction < 1:
        assert not np.array_equal(idx, label_fraction_indices(y, fraction, seed=2))


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan")])
def test_label_fraction_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="label_fraction"):
        label_fraction_indices(multilabel(), bad)


def test_linear_probe_learns_a_separable_task():
    rng = np.random.default_rng(0)
    y = multilabel(n=300)
    x = np.concatenate([y * 2.0 + rng.normal(0, 0.5, y.shape), rng.normal(size=(300, 10))], 1)
    tr, va, te = slice(0, 200), slice(200, 250), slice(250, 300)
    res = LinearProbe().fit_evaluate((x[tr], y[tr]), (x[va], y[va]), (x[te], y[te]),
                                     classes=list("abcd"))  # fmt: skip
    assert res.metrics["macro_auroc"] > 0.95
    assert res.C in LinearProbe().Cs


def test_linear_probe_reports_validation_auroc_with_a_single_c():
    rng = np.random.default_rng(0)
    y = multilabel(n=300)
    x = np.concatenate([y * 2.0 + rng.normal(0, 0.5, y.shape), rng.normal(size=(300, 10))], 1)
    probe = LinearProbe(Cs=(0.1,)).fit(x[:200], y[:200], x[200:], y[200:])
    assert np.isfinite(probe.val_macro_auroc) and probe.C == 0.1
    assert probe.val_macro_auroc == pytest.approx(
        macro_auroc(y[200:], probe.decision_function(x[200:]))
    )
    several = LinearProbe().fit(x[:200], y[:200], x[200:], y[200:])
    assert several.val_macro_auroc == pytest.approx(
        macro_auroc(y[200:], several.decision_function(x[200:]))
    )


def _toy_dataset(n: int = 90) -> ECGDataset:
    rng = np.random.default_rng(0)
    y = np.eye(3, dtype=np.float32)[np.arange(n) % 3]
    t = np.arange(200) / 100.0
    freq = np.array([1.0, 3.0, 6.0])[np.arange(n) % 3]
    sig = np.sin(2 * np.pi * freq[:, None, None] * t) + 0.2 * rng.normal(size=(n, 2, 200))
    split = np.array(["train", "val", "test"])[np.arange(n) // 3 % 3]
    return ECGDataset(sig.astype(np.float32), 100.0, ("I", "II"), y, ("a", "b", "c"), split,
                      multilabel=False)  # fmt: skip


def test_evaluate_encoder_end_to_end():
    torch.manual_seed(0)
    enc = ENCODERS.build("multibranch", n_leads=2, per_lead_dim=8, width=4)
    res = evaluate_encoder(enc, _toy_dataset(), device="cpu")
    assert 0.5 < res.macro_auroc <= 1.0
    assert "accuracy" in res.metrics and res.n_test == 30 and res.n_train == 30
    small = evaluate_encoder(enc, _toy_dataset(), label_fraction=0.2, device="cpu")
    assert small.n_train == 6


def test_embed_shapes_and_errors():
    torch.manual_seed(0)
    enc = ENCODERS.build("multibranch", n_leads=2, per_lead_dim=8, width=4)
    x = np.random.default_rng(0).normal(size=(5, 2, 150)).astype(np.float32)
    assert embed(enc, x, batch_size=2, device="cpu").shape == (5, 16)
    assert embed(enc, x, device="cpu", per_lead=True).shape == (5, 2, 8)
    with pytest.raises(ValueError, match="leads"):
        embed(enc, x[:, :1], device="cpu")
    x[1, 0, 3] = np.inf
    with pytest.raises(ValueError, match="Inf"):
        embed(enc, x, device="cpu")
    with pytest.raises(ValueError, match="leads"):
        evaluate_encoder(ENCODERS.build("multibranch", n_leads=3), _toy_dataset(), device="cpu")


def test_label_fractions_are_plain_by_default_and_reported():
    """The default sample is a plain stratified fraction (a rare class may be missing, and
    details say which); ``min_positives_per_class=1`` forces one positive per class."""
    rng = np.random.default_rng(0)
    n = 400
    y = np.zeros((n, 3), dtype=np.float32)
    y[:, 0] = (np.arange(n) // 4) % 2
    y[:, 1] = 1 - y[:, 0]
    y[rng.choice(np.flatnonzero(np.arange(n) % 4 == 0), 4, replace=False), 2] = 1
    x = rng.normal(size=(n, 2, 100)).astype(np.float32) + y[:, :2, None]
    split = np.array(["train", "train", "val", "test"])[np.arange(n) % 4]
    ds = ECGDataset(x, 100.0, ("I", "II"), y, ("a", "b", "rare"), split)
    torch.manual_seed(0)
    enc = ENCODERS.build("multibranch", n_leads=2, per_lead_dim=8, width=4)
    plain = evaluate_encoder(enc, ds, label_fraction=0.02, device="cpu", n_boot=0)
    assert plain.n_train == 4 and plain.details["min_positives_per_class"] == 0
    assert plain.details["classes_without_positive"] == ["rare"]
    forced = evaluate_encoder(enc, ds, label_fraction=0.02, device="cpu", n_boot=0,
                              min_positives_per_class=1)  # fmt: skip
    assert forced.n_train == 4 and forced.details["classes_without_positive"] == []


def test_linear_probe_as_one_linear_map_of_raw_embeddings():
    """linear_weights folds the standardisation in: x @ W.T + b is decision_function; a class
    absent from the training subset gets weight 0 and a strongly negative bias."""
    rng = np.random.default_rng(1)
    y = multilabel(n=200)
    y[:150, 3] = 0  # class 3 never present in training
    x = 3.0 + 5.0 * np.concatenate([y + rng.normal(0, 0.5, y.shape), rng.normal(size=(200, 6))], 1)
    probe = LinearProbe().fit(x[:150], y[:150], x[150:], y[150:])
    weight, bias = probe.linear_weights(n_classes=4)
    assert weight.shape == (4, x.shape[1]) and bias.shape == (4,)
    np.testing.assert_allclose((x @ weight.T + bias)[:, :3], probe.decision_function(x)[:, :3],
                               rtol=1e-6, atol=1e-6)  # fmt: skip
    assert not weight[3].any() and bias[3] == -10.0
    with pytest.raises(ValueError, match="4 classes, not 5"):
        probe.linear_weights(n_classes=5)
    with pytest.raises(RuntimeError, match="fit"):
        LinearProbe().linear_weights()


def test_paired_gain_ci_is_the_seed_averaged_paired_bootstrap():
    """The gain is the mean of the pairs' macro-AUROC differences; the interval comes from
    resampling test records once for all pairs (checked against a plain loop)."""
    from ecgssl.evaluation.metrics import paired_gain_ci

    rng = np.random.default_rng(1)
    y = multilabel(60, 3)
    pairs = [(y + rng.normal(0, s, y.shape), y + rng.normal(0, 2 * s, y.shape))
             for s in (0.6, 0.8)]  # fmt: skip
    gain, lo, hi = paired_gain_ci(y, pairs, n_boot=50, seed=3)
    assert gain == pytest.approx(np.mean([macro_auroc(y, a) - macro_auroc(y, b) for a, b in pairs]))
    draw = np.random.default_rng(3)
    ref = []
    while len(ref) < 50:
        i = draw.integers(0, 60, 60)
        if (y[i].sum(0) == 0).any() or (y[i].sum(0) == 60).any():
            continue
        ref.append(np.mean([macro_auroc(y[i], a[i]) - macro_auroc(y[i], b[i]) for a, b in pairs]))
    assert (lo, hi) == pytest.approx(tuple(np.percentile(ref, [2.5, 97.5])))
    assert lo < gain < hi
    same = paired_gain_ci(y, [(pairs[0][0], pairs[0][0])], n_boot=20)
    assert same == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="at least one"):
        paired_gain_ci(y, [])
    with pytest.raises(ValueError, match="level"):
        paired_gain_ci(y, pairs, level=1.5)
