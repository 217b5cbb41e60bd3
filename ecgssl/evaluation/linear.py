"""Linear probe on frozen embeddings: logistic regression with C chosen on validation."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from ecgssl.errors import InvalidValueError
from ecgssl.evaluation.metrics import classification_metrics, macro_auroc_or_nan

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
    split (``val_macro_auroc``, computed also when there is a single candidate; NaN when the
    validation split has no class with positives and negatives, in which case the first
    ``C`` is kept), then the probe is evaluated once on the test split.

    Args:
        Cs: Candidate inverse regularisation strengths.
        max_iter: L-BFGS iterations per fit.
    """

    def __init__(self, Cs: Sequence[float] = (0.001, 0.01, 0.1, 1.0, 10.0), max_iter: int = 500):
        if not Cs or any(c <= 0 for c in Cs):
            raise InvalidValueError(f"Cs must be non-empty positive numbers, got {Cs!r}")
        self.Cs = tuple(float(c) for c in Cs)
        self.max_iter = max_iter

    def fit(
        self, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray
    ) -> LinearProbe:
        """Standardise on ``x_train``, choose ``C`` by validation macro AUROC, and keep the
        per-class classifiers fitted with it. Labels are multi-hot (records, classes)."""
        y_train = np.asarray(y_train)
        self.scaler_ = StandardScaler().fit(x_train)
        xtr, xva = self.scaler_.transform(x_train), self.scaler_.transform(x_val)
        best_c, best_auc, best_models = self.Cs[0], math.nan, None
        for C in self.Cs:
            models = self._fit(xtr, y_train, C)
            auc = macro_auroc_or_nan(np.asarray(y_val), self._predict(models, xva))
            better = math.isfinite(auc) and not (math.isfinite(best_auc) and auc <= best_auc)
            if best_models is None or better:
                best_c, best_auc, best_models = C, auc, models
        assert best_models is not None
        self.C, self.val_macro_auroc, self.models_ = best_c, float(best_auc), best_models
        return self

    def _fit(self, x: np.ndarray, y: np.ndarray, C: float) -> list[LogisticRegression | float]:
        models: list[LogisticRegression | float] = []
        for c in range(y.shape[1]):
            yc = y[:, c]
            if yc.min() == yc.max():  # class absent (or always present) in the train subset
                models.append(float(yc[0]))
                continue
            clf = LogisticRegression(C=C, max_iter=self.max_iter)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(x, yc)
            models.append(clf)
        return models

    @staticmethod
    def _predict(models: list[LogisticRegression | float], x: np.ndarray) -> np.ndarray:
        cols = [
            np.full(x.shape[0], m) if isinstance(m, float) else m.decision_function(x)
            for m in models
        ]
        return np.stack(cols, axis=1)

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Per-class scores (records, classes) of embeddings ``x`` after :meth:`fit`."""
        if not hasattr(self, "models_"):
            raise RuntimeError("call fit() before decision_function()")
        return self._predict(self.models_, self.scaler_.transform(x))

    def linear_weights(self, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The fitted probe as one linear map of raw embeddings: ``(weight (classes, dim),
        bias (classes,))`` with ``x @ weight.T + bias`` equal to :meth:`decision_function`.

        The standardisation is folded into the weights. A class that was constant in the
        training subset gets weight 0 and a bias of -10 (never present) or +10 (always), its
        logit; ``n_classes`` checks the count against a head to be initialised with it.
        """
        if not hasattr(self, "models_"):
            raise RuntimeError("call fit() before linear_weights()")
        if n_classes is not None and n_classes != len(self.models_):
            raise InvalidValueError(
                f"the probe was fitted on {len(self.models_)} classes, not {n_classes}"
            )
        mean = np.asarray(self.scaler_.mean_, dtype=np.float64)
        scale = np.asarray(self.scaler_.scale_, dtype=np.float64)
        weight = np.zeros((len(self.models_), mean.size))
        bias = np.zeros(len(self.models_))
        for c, m in enumerate(self.models_):
            if isinstance(m, float):
                bias[c] = 10.0 if m > 0.5 else -10.0
                continue
            w = np.asarray(m.coef_, dtype=np.float64).ravel() / scale
            weight[c], bias[c] = w, float(m.intercept_[0]) - float(w @ mean)
        return weight, bias

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
        self.fit(train[0], train[1], val[0], val[1])
        scores = self.decision_function(test[0])
        metrics = classification_metrics(test[1], scores, tuple(classes), multilabel)
        return ProbeResult(
            metrics=metrics, C=self.C, val_macro_auroc=self.val_macro_auroc, scores=scores
        )
