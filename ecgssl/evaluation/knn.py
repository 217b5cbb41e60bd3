"""Cosine k-nearest-neighbour classifier on frozen embeddings (multi-label aware)."""

from __future__ import annotations

import numpy as np

from ecgssl.errors import InvalidValueError

__all__ = ["knn_scores"]


def knn_scores(
    train_x: np.ndarray,
    train_y: np.ndarray,
    eval_x: np.ndarray,
    k: int = 20,
    temperature: float = 0.07,
    chunk: int = 1024,
) -> np.ndarray:
    """Class scores of ``eval_x`` from its ``k`` most cosine-similar training embeddings.

    Each neighbour votes for its (multi-hot) labels with weight ``exp(similarity /
    temperature)`` (Wu et al., CVPR 2018, as used for SSL monitoring); the score of a class is
    the weighted fraction of neighbour votes it receives, in [0, 1]. Works for single-label
    (one-hot) and multi-label targets alike.

    Args:
        train_x: Training embeddings (n_train, dim).
        train_y: Multi-hot training labels (n_train, classes).
        eval_x: Embeddings to score (n_eval, dim).
        k: Neighbours (capped at ``n_train``).
        temperature: Softmax temperature of the similarity weights, > 0.
        chunk: Evaluation rows per matrix product (bounds memory).

    Returns:
        Scores (n_eval, classes).
    """
    if k < 1:
        raise InvalidValueError(f"k must be >= 1, got {k}")
    if temperature <= 0:
        raise InvalidValueError(f"temperature must be > 0, got {temperature}")
    if train_x.ndim != 2 or eval_x.ndim != 2 or train_x.shape[1] != eval_x.shape[1]:
        raise InvalidValueError(
            f"embeddings must be (n, dim) with the same dim, got {train_x.shape}, {eval_x.shape}"
        )
    if train_y.shape[0] != train_x.shape[0]:
        raise InvalidValueError(
            f"{train_y.shape[0]} labels for {train_x.shape[0]} training embeddings"
        )

    def unit(a: np.ndarray) -> np.ndarray:
        a = a.astype(np.float64)
        return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)

    tr, ev = unit(train_x), unit(eval_x)
    y = np.asarray(train_y, dtype=np.float64)
    k = min(int(k), tr.shape[0])
    out = np.empty((ev.shape[0], y.shape[1]))
    for s in range(0, ev.shape[0], chunk):
        sim = ev[s : s + chunk] @ tr.T  # (rows, n_train)
        nn = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        w = np.exp((np.take_along_axis(sim, nn, axis=1) - 1.0) / temperature)  # stable
        out[s : s + chunk] = np.einsum("rk,rkc->rc", w, y[nn]) / w.sum(axis=1, keepdims=True)
    return out
