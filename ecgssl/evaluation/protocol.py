"""Downstream evaluation of an encoder on a labeled dataset's train/val/test splits."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ecgssl.data.base import ECGDataset
from ecgssl.encoders.base import Encoder
from ecgssl.evaluation.embed import embed
from ecgssl.evaluation.finetune import FinetuneConfig, finetune
from ecgssl.evaluation.knn import knn_scores
from ecgssl.evaluation.leakage import check_leakage
from ecgssl.evaluation.linear import LinearProbe
from ecgssl.evaluation.metrics import (
    best_thresholds,
    bootstrap_ci,
    classification_metrics,
    f1_at_thresholds,
    macro_auroc,
)
from ecgssl.evaluation.sampling import label_fraction_indices

__all__ = ["PROTOCOLS", "EvaluationResult", "evaluate_encoder", "evaluate_fractions"]

PROTOCOLS = ("linear", "knn", "finetune")


@dataclass
class EvaluationResult:
    """Metrics of one evaluation run.

    Attributes:
        metrics: ``macro_auroc`` (primary) with its bootstrap 95 % interval
            ``macro_auroc_ci_low``/``macro_auroc_ci_high``, ``macro_auprc``, ``macro_f1``
            (per-class thresholds chosen on validation), per-class ``auroc/<class>`` and, for
            single-label tasks, ``accuracy``.
        protocol: The protocol used.
        label_fraction: Fraction of training labels used.
        n_train: Labeled training records used.
        n_test: Test records scored.
        details: Protocol-specific facts (chosen regularisation, validation score...).
    """

    metrics: dict[str, float]
    protocol: str
    label_fraction: float
    n_train: int
    n_test: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def macro_auroc(self) -> float:
        return self.metrics["macro_auroc"]

    def __getitem__(self, key: str) -> float:
        return self.metrics[key]


def evaluate_encoder(
    encoder: Encoder,
    dataset: ECGDataset,
    protocol: str = "linear",
    label_fraction: float = 1.0,
    seed: int = 0,
    device: str | torch.device = "auto",
    batch_size: int = 256,
    finetune_config: FinetuneConfig | None = None,
    knn_k: int = 20,
    n_boot: int = 200,
    allow_leakage: bool = False,
) -> EvaluationResult:
    """Evaluate an encoder on ``dataset`` (needs labels and train/val/test splits).

    Every protocol uses the same seeded label-fraction sample of the training split, selects
    its settings on the validation split, and scores the test split once.

    Args:
        encoder: The encoder to evaluate (left unchanged by every protocol).
        dataset: A labeled dataset with a split assignment.
        protocol: ``"linear"`` (logistic regression on frozen embeddings, C chosen on
            validation), ``"knn"`` (cosine k-nearest neighbours on frozen embeddings) or
            ``"finetune"`` (encoder + linear head trained end to end, early-stopped on
            validation).
        label_fraction: Fraction of training labels to use, in (0, 1]: a stratified sample
            (:func:`ecgssl.data.sampling.sample_label_fraction`), of whole patients when the
            dataset has patient ids.
        seed: Seed of the label-fraction sample (and of fine-tuning).
        device: Device for the embeddings / fine-tuning.
        batch_size: Records per forward pass when embedding.
        finetune_config: Settings of the ``"finetune"`` protocol.
        knn_k: Neighbours of the ``"knn"`` protocol.
        n_boot: Bootstrap resamples of the test split for the confidence interval (0: none).
        allow_leakage: Score the test split even if it shares records or patients with the
            encoder's pretraining data (logged loudly); by default that raises.
    """
    return evaluate_fractions(
        encoder, dataset, (label_fraction,), protocol, seed, device, batch_size,
        finetune_config, knn_k, n_boot, allow_leakage,
    )[0]  # fmt: skip


def evaluate_fractions(
    encoder: Encoder,
    dataset: ECGDataset,
    label_fractions: Sequence[float] = (0.01, 0.1, 1.0),
    protocol: str = "linear",
    seed: int = 0,
    device: str | torch.device = "auto",
    batch_size: int = 256,
    finetune_config: FinetuneConfig | None = None,
    knn_k: int = 20,
    n_boot: int = 200,
    allow_leakage: bool = False,
) -> list[EvaluationResult]:
    """:func:`evaluate_encoder` at several label fractions, embedding every record once
    (frozen-embedding protocols). Arguments as in :func:`evaluate_encoder`."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; available: {', '.join(PROTOCOLS)}")
    if dataset.labels is None:
        raise ValueError(f"dataset {dataset.name!r} has no labels to evaluate against")
    if dataset.split is None:
        raise ValueError(f"dataset {dataset.name!r} has no train/val/test split")
    if dataset.n_leads != encoder.n_leads:
        raise ValueError(
            f"dataset {dataset.name!r} has {dataset.n_leads} leads, the encoder expects "
            f"{encoder.n_leads}"
        )
    parts = {s: dataset.subset(s) for s in ("train", "val", "test")}
    leaked = check_leakage(encoder, parts["test"], allow_leakage)
    train_all = parts["train"]
    assert train_all.labels is not None
    samples = [
        label_fraction_indices(train_all.labels, f, seed, train_all.patient_ids)
        for f in label_fractions
    ]
    labels = {s: np.asarray(parts[s].labels) for s in ("train", "val", "test")}
    feats: dict[str, np.ndarray] = {}
    if protocol != "finetune":
        feats = {
            s: embed(encoder, parts[s].signals, batch_size=batch_size, device=device)
            for s in ("train", "val", "test")
        }
    results = []
    for fraction, idx in zip(label_fractions, samples):
        details: dict[str, Any] = {"leaked_test_records": leaked}
        y_train = labels["train"][idx]
        if protocol == "finetune":
            cfg = finetune_config or FinetuneConfig(seed=seed)
            ft = finetune(
                encoder, (train_all.signals[idx], y_train), (parts["val"].signals, labels["val"]),
                multilabel=dataset.multilabel, config=cfg, device=device,
            )  # fmt: skip
            val_scores = ft.scores(parts["val"].signals, batch_size)
            test_scores = ft.scores(parts["test"].signals, batch_size)
            details.update(best_epoch=ft.best_epoch, val_macro_auroc=ft.val_macro_auroc)
        elif protocol == "linear":
            probe = LinearProbe().fit(feats["train"][idx], y_train, feats["val"], labels["val"])
            val_scores = probe.decision_function(feats["val"])
            test_scores = probe.decision_function(feats["test"])
            details.update(C=probe.C, val_macro_auroc=probe.val_macro_auroc)
        else:
            tr = feats["train"][idx]
            val_scores = knn_scores(tr, y_train, feats["val"], k=knn_k)
            test_scores = knn_scores(tr, y_train, feats["test"], k=knn_k)
            details.update(k=min(knn_k, len(idx)))
        metrics = _metrics(dataset, labels, val_scores, test_scores, n_boot, seed)
        results.append(
            EvaluationResult(
                metrics=metrics,
                protocol=protocol,
                label_fraction=fraction,
                n_train=len(idx),
                n_test=len(parts["test"]),
                details=details,
            )
        )
    return results


def _metrics(
    dataset: ECGDataset,
    labels: dict[str, np.ndarray],
    val_scores: np.ndarray,
    test_scores: np.ndarray,
    n_boot: int,
    seed: int,
) -> dict[str, float]:
    metrics = classification_metrics(
        labels["test"], test_scores, tuple(dataset.classes), dataset.multilabel
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        metrics["macro_f1"] = f1_at_thresholds(
            labels["test"], test_scores, best_thresholds(labels["val"], val_scores)
        )
    if n_boot > 0:
        lo, hi = bootstrap_ci(macro_auroc, labels["test"], test_scores, n_boot=n_boot, seed=seed)
        metrics["macro_auroc_ci_low"], metrics["macro_auroc_ci_high"] = lo, hi
    return metrics
