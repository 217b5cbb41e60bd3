"""Linear probe on frozen embeddings: logistic regression with C chosen on validation."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from ecgssl.evaluation.metrics import classification_metrics, macro_auroc

__all__ = ["LinearProbe", "ProbeResult"]


@dataclass
class ProbeResult:
    """Test metrics of a fitted probe and the regularisation it chose."""

    metrics: dict[str, float]
    C: float
    val_macro_auroc: float
    scores: np.ndarray = field(repr=False)


class LinearProbe:
    """One-vs-rest L2 logistic regression (L-BFGS) on standardised embeddings.

    The inverse regularisation ``C`` is chosen from ``Cs`` by macro AUROC on the validation
    split, then the probe is evaluated once on the test split.

    Args:
        Cs: Candidate inverse regularisation strengths.
        max_iter: L-BFGS iterations per fit.
    """

    def __init__(self, Cs: Sequence[float] = (0.001, 0.01, 0.1, 1.0, 10.0), max_iter: int = 500):
        if not Cs or any(c <= 0 for c in Cs):
            raise ValueError(f"Cs must be non-empty positive numbers, got {Cs!r}")
        self.Cs = tuple(float(c) for c in Cs)
        self.max_iter = max_iter

    def _fit_predict(
        self, x: np.ndarray, y: np.ndarray, x_eval: np.ndarray, C: float
    ) -> np.ndarray:
        scores = np.zeros((x_eval.shape[0], y.shape[1]))
        for c in range(y.shape[1]):
            yc = y[:, c]
            if yc.min() == yc.max():  # class absent (or always present) in the train subset
                scores[:, c] = float(yc[0])
                continue
            clf = LogisticRegression(C=C, max_iter=self.max_iter)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(x, yc)
            scores[:, c] = clf.decision_function(x_eval)
        return scores

    def fit_evaluate(
        self,
        train: tuple[np.ndarray, np.ndarray],
        val: tuple[np.ndarray, np.ndarray],
        test: tuple[np.ndarray, np.ndarray],
        classes: Sequence[str],
        multilabel: bool = True,
    ) -> ProbeResult:
        """Fit on ``train``, select ``C`` on ``val``, report metrics on ``test``.

        Each argument is ``(embeddings, multi-hot labels)``.
        """
        scaler = StandardScaler().fit(train[0])
        xtr, xva, xte = (scaler.transform(a[0]) for a in (train, val, test))
        best_c, best_auc = self.Cs[0], -np.inf
        if len(self.Cs) > 1:
            for C in self.Cs:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    auc = macro_auroc(val[1], self._fit_predict(xtr, train[1], xva, C))
                if auc > best_auc:
                    best_c, best_auc = C, auc
        scores = self._fit_predict(xtr, train[1], xte, best_c)
        metrics = classification_metrics(test[1], scores, tuple(classes), multilabel)
        return ProbeResult(
            metrics=metrics, C=best_c, val_macro_auroc=float(best_auc), scores=scores
        )
