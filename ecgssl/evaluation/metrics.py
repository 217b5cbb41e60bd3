"""Classification metrics for multi-label and single-label ECG tasks."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score, roc_auc_score

from ecgssl.errors import InvalidValueError

__all__ = [
    "auroc_rows",
    "best_thresholds",
    "bootstrap_ci",
    "classification_metrics",
    "f1_at_thresholds",
    "macro_auprc",
    "macro_auroc",
    "macro_auroc_or_nan",
    "paired_gain_ci",
]


def _scorable(y_true: np.ndarray) -> np.ndarray:
    """Columns with at least one positive and one negative."""
    pos = y_true.sum(axis=0)
    return (pos > 0) & (pos < y_true.shape[0])


def _check(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_true.shape != y_score.shape or y_true.ndim != 2:
        raise InvalidValueError(
            f"y_true and y_score must both be (samples, classes), got {y_true.shape} and "
            f"{y_score.shape}"
        )
    if not np.isfinite(y_score).all():
        raise InvalidValueError("y_score contains NaN or Inf")
    return y_true, y_score


def _macro(
    metric: Callable[[np.ndarray, np.ndarray], float],
    y_true: np.ndarray,
    y_score: np.ndarray,
    name: str,
) -> tuple[float, np.ndarray]:
    y_true, y_score = _check(y_true, y_score)
    ok = _scorable(y_true)
    per_class = np.full(y_true.shape[1], np.nan)
    if not ok.any():
        raise InvalidValueError(f"{name} is undefined: no class has both positives and negatives")
    if not ok.all():
        warnings.warn(
            f"{name}: {int((~ok).sum())} class(es) have only one label value in y_true and are "
            "left out of the macro average",
            RuntimeWarning,
            stacklevel=3,
        )
    for c in np.flatnonzero(ok):
        per_class[c] = metric(y_true[:, c], y_score[:, c])
    return float(np.nanmean(per_class)), per_class


def macro_auroc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Mean one-vs-rest ROC AUC over classes that have positives and negatives."""
    return _macro(roc_auc_score, y_true, y_score, "macro AUROC")[0]


def macro_auroc_or_nan(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """:func:`macro_auroc` for a model-selection score: quiet, and NaN (instead of an error)
    when no class has both positives and negatives."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return macro_auroc(y_true, y_score)
        except ValueError:
            return math.nan


def macro_auprc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Mean one-vs-rest average precision over classes with positives and negatives."""
    return _macro(average_precision_score, y_true, y_score, "macro AUPRC")[0]


def classification_metrics(
    y_true: np.ndarray, y_score: np.ndarray, classes: tuple[str, ...] | list[str],
    multilabel: bool = True,
) -> dict[str, float]:  # fmt: skip
    """Macro AUROC (primary), macro AUPRC, per-class AUROC and, for single-label tasks,
    accuracy of the arg-max.

    Args:
        y_true: Multi-hot (or one-hot) targets (samples, classes).
        y_score: Scores or probabilities (samples, classes).
        classes: Class names, for the per-class entries.
        multilabel: Whether the task is multi-label (accuracy is reported otherwise).
    """
    auroc, per_class = _macro(roc_auc_score, y_true, y_score, "macro AUROC")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        auprc, _ = _macro(average_precision_score, y_true, y_score, "macro AUPRC")
    out: dict[str, float] = {"macro_auroc": auroc, "macro_auprc": auprc}
    if not multilabel:
        out["accuracy"] = float((y_score.argmax(1) == np.asarray(y_true).argmax(1)).mean())
    for name, v in zip(classes, per_class):
        out[f"auroc/{name}"] = float(v)
    return out


def best_thresholds(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    """Per-class decision thresholds that maximise F1 on ``(y_true, y_score)``.

    Choose them on the validation split and apply them to the test split
    (:func:`f1_at_thresholds`). A class without positives gets ``+inf`` (never predicted).
    """
    y_true, y_score = _check(y_true, y_score)
    thr = np.full(y_true.shape[1], np.inf)
    for c in range(y_true.shape[1]):
        pos = y_true[:, c] > 0
        if not pos.any():
            continue
        cand = np.unique(y_score[:, c])
        pred = y_score[:, c][None, :] >= cand[:, None]  # (candidates, samples)
        tp = (pred & pos).sum(axis=1)
        f1 = 2 * tp / (pred.sum(axis=1) + pos.sum())
        thr[c] = cand[int(np.argmax(f1))]
    return thr


def f1_at_thresholds(y_true: np.ndarray, y_score: np.ndarray, thresholds: np.ndarray) -> float:
    """Macro F1 of the predictions ``y_score >= thresholds`` (classes with positives only)."""
    y_true, y_score = _check(y_true, y_score)
    pred = y_score >= np.asarray(thresholds)[None, :]
    pos = y_true > 0
    has_pos = pos.any(axis=0)
    if not has_pos.any():
        raise InvalidValueError("macro F1 is undefined: no class has positives")
    tp = (pred & pos).sum(axis=0)
    denom = pred.sum(axis=0) + pos.sum(axis=0)
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    return float(f1[has_pos].mean())


def bootstrap_ci(
    metric: Callable[[np.ndarray, np.ndarray], float],
    y_true: np.ndarray,
    y_score: np.ndarray,
    n_boot: int = 200,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of a per-class macro ``metric`` over test
    records.

    Resamples records with replacement ``n_boot`` times. Every resample is scored on the
    same class set: the classes with positives and negatives in the full ``y_true`` (only
    their columns are passed to ``metric``), and a resample in which one of them loses all
    its positives (or negatives) is dropped, rather than averaged over fewer classes. So
    the interval is about the same quantity as the point estimate.

    Returns:
        ``(low, high)``; ``(nan, nan)`` when no resample gives a defined value.
    """
    y_true, y_score = _check(y_true, y_score)
    if not 0 < level < 1:
        raise InvalidValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    n = y_true.shape[0]
    cols = np.flatnonzero(_scorable(y_true))
    values: list[float]
    if metric in (macro_auroc, macro_auroc_or_nan):  # all resamples at once, same draws
        values = _bootstrap_macro_auroc(
            y_true[:, cols], y_score[:, cols], int(n_boot), rng
        ).tolist()
    else:
        values = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for _ in range(int(n_boot)):
                idx = rng.integers(0, n, n)
                yt = y_true[idx][:, cols]
                if not len(cols) or not _scorable(yt).all():
                    continue  # a class lost its positives or negatives: another class set
                try:
                    values.append(metric(yt, y_score[idx][:, cols]))
                except ValueError:
                    continue
    if not values:
        return (float("nan"), float("nan"))
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


_BOOT_BLOCK_ELEMENTS = 1 << 24  # resamples x records x classes per numpy call


def _bootstrap_macro_auroc(
    y_true: np.ndarray, y_score: np.ndarray, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Macro AUROC of ``n_boot`` record resamples (the draws of the loop in
    :func:`bootstrap_ci`), resamples that lose a class's positives or negatives dropped.

    AUROC as the Mann-Whitney U statistic with average ranks for ties, which equals
    scikit-learn's ``roc_auc_score``; computed for a block of resamples per numpy call
    (blocks bounded to ~16 M elements), about 100x faster than one sklearn call per class
    and resample.
    """
    n, c = y_true.shape
    if c == 0:
        return np.empty(0)
    pos_mask = (y_true > 0).T.astype(np.float64)  # (classes, n)
    scores = y_score.T
    block = max(1, _BOOT_BLOCK_ELEMENTS // max(1, n * c))
    out: list[np.ndarray] = []
    for start in range(0, n_boot, block):
        b = min(block, n_boot - start)
        idx = rng.integers(0, n, (b, n))  # row r = the r-th draw of rng.integers(0, n, n)
        auc = auroc_rows(pos_mask[:, idx].transpose(1, 0, 2), scores[:, idx].transpose(1, 0, 2))
        ok = ~np.isnan(auc).any(-1)  # (b, classes) -> resamples that kept every class
        out.append(auc[ok].mean(-1))
    return np.concatenate(out)


def auroc_rows(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    """ROC AUC along the last axis of ``(..., n)`` binary labels and scores, for many rows at
    once: the Mann-Whitney U statistic with average ranks for ties, which equals
    scikit-learn's ``roc_auc_score``. NaN where a row lacks positives or negatives."""
    y = (np.asarray(y_true) > 0).astype(np.float64)
    ranks = rankdata(y_score, axis=-1)
    pos = y.sum(-1)
    neg = y.shape[-1] - pos
    u = (ranks * y).sum(-1) - pos * (pos + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((pos > 0) & (neg > 0), u / (pos * neg), np.nan)


def paired_gain_ci(
    y_true: np.ndarray,
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """Mean macro-AUROC difference over ``pairs`` of (method, baseline) test scores of the
    same records (e.g. one pair per seed), and its percentile bootstrap interval.

    Every resample draws test records with replacement once and scores all pairs on it, so
    the interval is that of the seed-averaged, paired gain. A resample in which a class loses
    all its positives or negatives is redrawn, so every resample averages the same classes.
    Vectorised over resamples.

    Returns:
        ``(gain, low, high)``.
    """
    y = np.asarray(y_true)
    if not pairs:
        raise InvalidValueError("paired_gain_ci needs at least one (method, baseline) pair")
    if not 0 < level < 1:
        raise InvalidValueError(f"level must be in (0, 1), got {level}")
    for a, b in pairs:
        _check(y, a), _check(y, b)
    gain = float(np.mean([macro_auroc(y, a) - macro_auroc(y, b) for a, b in pairs]))
    rng = np.random.default_rng(seed)
    n = len(y)
    draws: list[np.ndarray] = []
    cols = np.flatnonzero(_scorable(y))
    y = y[:, cols]
    if n_boot < 1 or not len(cols):
        return gain, math.nan, math.nan
    while len(draws) < n_boot:
        i = rng.integers(0, n, n)
        pos = y[i].sum(0)
        if (pos == 0).any() or (pos == n).any():
            continue
        draws.append(i)
    ib = np.stack(draws)
    yb = y[ib].transpose(0, 2, 1)  # (resamples, classes, records)

    def macro(scores: np.ndarray) -> np.ndarray:
        return auroc_rows(yb, np.asarray(scores)[:, cols][ib].transpose(0, 2, 1)).mean(-1)

    diff = np.mean([macro(a) - macro(b) for a, b in pairs], axis=0)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(diff, [tail, 100 - tail])
    return gain, float(lo), float(hi)
