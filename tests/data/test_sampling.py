"""Iterative stratification and label-fraction samples: proportions, patients, seeds."""

import numpy as np
import pytest

from ecgssl.data.sampling import (
    iterative_stratification,
    label_fraction_indices,
    sample_label_fraction,
)
from ecgssl.evaluation import label_fraction_indices as eval_label_fraction_indices


def _labels(n=1200, c=8, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, c)) < np.linspace(0.02, 0.5, c)).astype(np.float32)


def test_iterative_stratification_balances_every_label():
    y = _labels()
    fold = iterative_stratification(y, (0.7, 0.15, 0.15), seed=3)
    for k, f in enumerate((0.7, 0.15, 0.15)):
        assert (fold == k).mean() == pytest.approx(f, abs=0.01)
        np.testing.assert_allclose(y[fold == k].sum(0) / y.sum(0), f, atol=0.03)
    np.testing.assert_array_equal(fold, iterative_stratification(y, (0.7, 0.15, 0.15), seed=3))
    rng = np.random.default_rng(0)  # a random split for comparison is far less balanced
    rand = rng.permutation(np.repeat([0, 1, 2], [840, 180, 180]))
    dev = lambda f: np.abs(y[f == 2].sum(0) / y.sum(0) - 0.15).max()  # noqa: E731
    assert dev(fold) < dev(rand)


def test_patients_never_straddle_folds():
    y = _labels()
    patients = np.random.default_rng(1).integers(0, 300, len(y))
    fold = iterative_stratification(y, (0.8, 0.2), seed=0, groups=patients)
    assert not set(patients[fold == 0]) & set(patients[fold == 1])
    assert (fold == 1).mean() == pytest.approx(0.2, abs=0.03)
    with pytest.raises(ValueError, match="fractions"):
        iterative_stratification(y, (0.5, 0.6))
    with pytest.raises(ValueError, match="groups"):
        iterative_stratification(y, (0.5, 0.5), groups=patients[:10])


@pytest.mark.parametrize("min_pos", [0, 1])
@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.5, 1.0])
def test_label_fraction_size_coverage_and_seed(fraction, min_pos):
    y = _labels()
    s = sample_label_fraction(y, fraction, seed=4, min_positives_per_class=min_pos)
    assert s.n_records == int(np.ceil(fraction * len(y))) and s.n_total == len(y)
    if min_pos or fraction >= 0.1:
        assert (s.class_counts > 0).all()
    assert str(s.n_records) in s.summary()
    same = label_fraction_indices(y, fraction, seed=4, min_positives_per_class=min_pos)
    np.testing.assert_array_equal(s.indices, same)
    np.testing.assert_array_equal(
        s.indices, eval_label_fraction_indices(y, fraction, 4, None, min_pos)
    )
    if fraction < 1:
        assert not np.array_equal(
            s.indices, label_fraction_indices(y, fraction, seed=5, min_positives_per_class=min_pos)
        )
    if fraction >= 0.1:  # big enough to follow the label frequencies
        np.testing.assert_allclose(y[s.indices].mean(0), y.mean(0), atol=0.04)


def test_label_fraction_by_patient():
    y = _labels()
    patients = np.random.default_rng(2).integers(0, 400, len(y))
    s = sample_label_fraction(y, 0.2, seed=0, patient_ids=patients)
    chosen = set(patients[s.indices])
    assert np.isin(patients, list(chosen)).sum() == s.n_records  # whole patients only
    assert s.n_patients == len(chosen) and (s.class_counts > 0).all()
    assert s.n_records == pytest.approx(0.2 * len(y), rel=0.2)
    with pytest.raises(ValueError, match="label_fraction"):
        sample_label_fraction(y, 0.0)


def test_default_fraction_is_plain_not_class_balanced():
    """A 1 % sample follows the label frequencies: a class of 0.5 % prevalence is usually
    absent (expected 0.06 positives in 12 records), not forced in as a few-shot set would."""
    rng = np.random.default_rng(0)
    y = np.zeros((1200, 3), dtype=np.float32)
    y[:, 0] = rng.random(1200) < 0.5
    y[:, 1] = rng.random(1200) < 0.3
    y[rng.choice(1200, 6, replace=False), 2] = 1  # rare class: 6 of 1200 records
    with_rare = [sample_label_fraction(y, 0.01, seed=s).class_counts[2] > 0 for s in range(20)]
    assert sum(with_rare) <= 3
    forced = [
        sample_label_fraction(y, 0.01, seed=s, min_positives_per_class=1).class_counts[2]
        for s in range(20)
    ]
    assert all(c >= 1 for c in forced)
    two = sample_label_fraction(y, 0.05, seed=0, min_positives_per_class=2)
    assert (two.class_counts >= 2).all() and two.n_records == 60
    with pytest.raises(ValueError, match="min_positives_per_class"):
        sample_label_fraction(y, 0.1, min_positives_per_class=-1)


def test_min_positives_by_patient():
    y = _labels()
    patients = np.random.default_rng(2).integers(0, 400, len(y))
    s = sample_label_fraction(y, 0.02, seed=0, patient_ids=patients, min_positives_per_class=1)
    assert (s.class_counts > 0).all()
    chosen = set(patients[s.indices])
    assert np.isin(patients, list(chosen)).sum() == s.n_records  # whole patients only
