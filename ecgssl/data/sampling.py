"""Seeded, multi-label- and patient-aware subsets of labeled records.

:func:`iterative_stratification` is the algorithm of Sechidis, Tsoumakas and Vlahavas, "On the
Stratification of Multi-Label Data", ECML PKDD 2011: the rarest label is distributed first,
each example going to the fold that most lacks that label. Here an "example" may be a whole
patient (all of their records), so no patient ends up in two folds.
:func:`sample_label_fraction` uses it to draw the labeled training subset of a
label-fraction experiment: a plain stratified fraction by default, or with a minimum number
of positives per class taken first (``min_positives_per_class``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ecgssl.errors import InvalidValueError
from ecgssl.validation import check_in_range

__all__ = [
    "LabelFractionSample",
    "group_codes",
    "iterative_stratification",
    "label_fraction_indices",
    "sample_label_fraction",
]


def group_codes(n: int, groups: Sequence[object] | np.ndarray | None) -> np.ndarray:
    """Integer group code per record, equal codes for equal ids (strings or numbers); each
    record its own group when ``groups`` is ``None``."""
    if groups is None:
        return np.arange(n)
    g = np.asarray(groups)
    if len(g) != n:
        raise InvalidValueError(f"groups has {len(g)} entries for {n} records")
    return np.unique(g.astype(str), return_inverse=True)[1].ravel()


def iterative_stratification(
    labels: np.ndarray,
    fractions: Sequence[float],
    seed: int = 0,
    groups: Sequence[object] | np.ndarray | None = None,
) -> np.ndarray:
    """Assign records to folds of the given sizes, balancing every label across folds.

    Args:
        labels: Multi-hot labels (records, classes).
        fractions: Target fraction of records per fold (positive, summing to 1).
        seed: Random seed (ties and visiting order).
        groups: Optional group (patient) per record; a group's records share one fold.

    Returns:
        The fold index (0..len(fractions)-1) of each record.
    """
    y = np.asarray(labels, dtype=np.float64)
    if y.ndim != 2:
        raise InvalidValueError(f"labels must be (records, classes), got shape {y.shape}")
    frac = np.asarray(fractions, dtype=np.float64)
    if frac.ndim != 1 or len(frac) < 2 or (frac <= 0).any() or not math.isclose(frac.sum(), 1):
        raise InvalidValueError(
            f"fractions must be >= 2 positive numbers summing to 1, got {fractions}"
        )
    rng = np.random.default_rng(seed)
    gid = group_codes(y.shape[0], groups)
    n_groups = int(gid.max()) + 1 if len(gid) else 0
    counts = np.zeros((n_groups, y.shape[1]))
    np.add.at(counts, gid, y)
    sizes = np.bincount(gid, minlength=n_groups).astype(np.float64)
    want_fold = frac * sizes.sum()
    want_label = frac[:, None] * counts.sum(axis=0)[None, :]
    fold = np.full(n_groups, -1)
    has = counts > 0
    remaining = has.sum(axis=0).astype(np.float64)
    order = rng.permutation(n_groups)

    def assign(g: int, label: int | None) -> None:
        if label is None:
            score = want_fold
        else:
            score = want_label[:, label]
        best = np.flatnonzero(np.isclose(score, score.max()))
        if len(best) > 1:  # ties: the fold that lacks the most records, then at random
            sub = want_fold[best]
            best = best[np.isclose(sub, sub.max())]
        f = int(best[rng.integers(len(best))]) if len(best) > 1 else int(best[0])
        fold[g] = f
        want_fold[f] -= sizes[g]
        want_label[f] -= counts[g]
        remaining[has[g]] -= 1

    while (remaining > 0).any():
        live = np.flatnonzero(remaining > 0)
        label = int(live[np.argmin(remaining[live])])
        for g in order[(fold[order] < 0) & has[order, label]]:
            assign(int(g), label)
    for g in order[fold[order] < 0]:  # groups without any label
        assign(int(g), None)
    return fold[gid]


@dataclass(frozen=True)
class LabelFractionSample:
    """A label-fraction subset and its size.

    Attributes:
        indices: Sorted record indices of the subset.
        fraction: The requested fraction.
        n_total: Records available.
        n_patients: Patients in the subset (``None`` without patient ids).
        class_counts: Positive records per class in the subset.
    """

    indices: np.ndarray
    fraction: float
    n_total: int
    n_patients: int | None
    class_counts: np.ndarray

    @property
    def n_records(self) -> int:
        return len(self.indices)

    def summary(self) -> str:
        who = f" from {self.n_patients} patients" if self.n_patients is not None else ""
        empty = int((self.class_counts == 0).sum())
        return (
            f"label fraction {self.fraction:g}: {self.n_records} of {self.n_total} records{who}"
            f"; {empty} class(es) without a positive"
        )


def sample_label_fraction(
    labels: np.ndarray,
    fraction: float,
    seed: int = 0,
    patient_ids: Sequence[object] | np.ndarray | None = None,
    min_positives_per_class: int = 0,
) -> LabelFractionSample:
    """A seeded, patient-aware, stratified ``fraction`` of the records.

    By default the budget (``ceil(fraction * records)``) is drawn by
    :func:`iterative_stratification`, so label frequencies follow the full set: at a small
    fraction a rare class may get no positive at all, as in any honest random subset of
    that size (``class_counts`` and :meth:`LabelFractionSample.summary` say so). With
    ``patient_ids`` (some patients having several records) whole patients are drawn and the
    size can differ from the budget.

    ``min_positives_per_class=k`` first takes ``k`` positive records (patients) of each
    class, rarest class first, then draws the rest of the budget as above: a class-balanced
    few-shot set rather than a plain fraction (the behaviour of ecgssl before 0.1, with
    ``k=1``). Report which one a table used.

    Args:
        labels: Multi-hot labels (records, classes).
        fraction: Fraction of records to keep, in (0, 1].
        seed: Random seed.
        patient_ids: Optional patient per record; whole patients are drawn.
        min_positives_per_class: Positive records (patients) per class taken first
            (0: none, the default).

    Raises:
        ValueError: ``fraction`` outside (0, 1], a negative ``min_positives_per_class``,
            or mismatched shapes.
    """
    check_in_range(fraction, "label_fraction", 0.0, 1.0)
    if fraction <= 0:
        raise InvalidValueError(f"label_fraction must be in (0, 1], got {fraction}")
    if (isinstance(min_positives_per_class, bool) or not isinstance(min_positives_per_class, int)
            or min_positives_per_class < 0):  # fmt: skip
        raise InvalidValueError(
            f"min_positives_per_class must be an integer >= 0, got {min_positives_per_class!r}"
        )
    y = np.asarray(labels) > 0
    if y.ndim != 2:
        raise InvalidValueError(f"labels must be (records, classes), got shape {y.shape}")
    n = y.shape[0]
    gid = group_codes(n, patient_ids)
    n_groups = int(gid.max()) + 1
    if fraction >= 1.0:
        idx = np.arange(n)
    else:
        budget = max(1, math.ceil(fraction * n))
        idx = _draw(y, gid, n_groups, budget, seed, min_positives_per_class)
    return LabelFractionSample(
        indices=idx, fraction=float(fraction), n_total=n,
        n_patients=None if patient_ids is None else len(np.unique(gid[idx])),
        class_counts=y[idx].sum(axis=0),
    )  # fmt: skip


def _draw(
    y: np.ndarray, gid: np.ndarray, n_groups: int, budget: int, seed: int, min_pos: int
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_groups, y.shape[1]))
    np.add.at(counts, gid, y)
    sizes = np.bincount(gid, minlength=n_groups)
    exact = bool((sizes == 1).all())  # one record per patient: hit the budget exactly
    order = rng.permutation(n_groups)
    chosen = np.zeros(n_groups, dtype=bool)
    taken = 0
    if min_pos > 0:
        for c in np.argsort(counts.sum(axis=0), kind="stable"):  # rarest class first
            for g in order[counts[order, c] > 0]:
                if taken >= budget or (counts[chosen, c] > 0).sum() >= min_pos:
                    break
                if not chosen[g]:
                    chosen[g] = True
                    taken += sizes[g]
    seeds = chosen.copy()
    rest = np.flatnonzero(~chosen)
    left = budget - taken
    if left > 0 and len(rest):
        share = min(left / sizes[rest].sum(), 1.0)
        if share >= 1.0:
            chosen[rest] = True
        else:
            member = np.isin(gid, rest)
            sub = iterative_stratification(y[member], (share, 1 - share), seed, gid[member])
            chosen[np.unique(gid[member][sub == 0])] = True
    idx = np.flatnonzero(chosen[gid])
    if exact and len(idx) > budget:  # one record per group: drop surplus non-seed records
        extra = rng.permutation(idx[~seeds[gid[idx]]])[: len(idx) - budget]
        idx = np.setdiff1d(idx, extra)
    elif exact and len(idx) < budget:  # or top up at random
        extra = rng.permutation(np.flatnonzero(~chosen[gid]))[: budget - len(idx)]
        idx = np.concatenate([idx, extra])
    return np.sort(idx)


def label_fraction_indices(
    labels: np.ndarray,
    fraction: float,
    seed: int = 0,
    patient_ids: Sequence[object] | np.ndarray | None = None,
    min_positives_per_class: int = 0,
) -> np.ndarray:
    """Indices of a seeded, patient-aware, stratified ``fraction`` of the records.

    The sorted indices of :func:`sample_label_fraction`'s subset, deterministic for a given
    seed.

    Args:
        labels: Multi-hot labels (records, classes).
        fraction: Fraction of records to keep, in (0, 1].
        seed: Random seed.
        patient_ids: Optional patient per record; whole patients are drawn.
        min_positives_per_class: Positive records (patients) per class taken first; 0 (the
            default) draws a plain stratified fraction, where a rare class may be absent.

    Raises:
        ValueError: ``fraction`` outside (0, 1].
    """
    return sample_label_fraction(
        labels, fraction, seed, patient_ids, min_positives_per_class
    ).indices
