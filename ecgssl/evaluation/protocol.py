"""Downstream evaluation of an encoder on a labeled dataset's train/val/test splits."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ecgssl.data.base import ECGDataset
from ecgssl.data.sampling import sample_label_fraction
from ecgssl.encoders.base import Encoder
from ecgssl.errors import InvalidValueError
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
from ecgssl.precision import check_amp

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
        label_fraction: Fraction of training labels requested.
        n_train: Labeled training records actually used (report it next to the fraction:
            with patient-aware sampling it can differ from ``fraction * records``).
        n_test: Test records scored.
        details: Protocol-specific facts (chosen regularisation, validation score...) and the
            label sample's ``min_positives_per_class``, ``n_train_patients`` and
            ``classes_without_positive``.
        test_scores: The scores (records, classes) the metrics were computed from, one row per
            test record in the dataset's order: what a paired comparison of two encoders on
            the same records needs (:func:`ecgssl.evaluation.metrics.paired_gain_ci`).
    """

    metrics: dict[str, float]
    protocol: str
    label_fraction: float
    n_train: int
    n_test: int
    details: dict[str, Any] = field(default_factory=dict)
    test_scores: np.ndarray | None = field(default=None, repr=False)

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
    window_seconds: float | None = None,
    window_stride: float | None = None,
    aggregate: str = "max",
    min_positives_per_class: int = 0,
    amp: bool | str = "auto",
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
        label_fraction: Fraction of training labels to use, in (0, 1]: a plain stratified
            sample (:func:`ecgssl.data.sampling.sample_label_fraction`), of whole patients
            when the dataset has patient ids; at a small fraction a rare class may have no
            positive. ``EvaluationResult.n_train`` is the number of labeled records used.
        seed: Seed of the label-fraction sample (and of fine-tuning).
        device: Device for the embeddings / fine-tuning.
        batch_size: Records per forward pass when embedding.
        finetune_config: Settings of the ``"finetune"`` protocol.
        knn_k: Neighbours of the ``"knn"`` protocol.
        n_boot: Bootstrap resamples of the test split for the confidence interval (0: none).
        allow_leakage: Score the test split even if it shares records or patients with the
            encoder's pretraining data (logged loudly); by default that raises.
        window_seconds: Windowed evaluation (frozen protocols), as in the PTB-XL benchmark:
            every record is cut into windows of this length (e.g. 2.5 s), the probe is trained
            on the training windows (each with its record's labels), and validation/test
            records are scored by aggregating their windows' scores. ``None``: whole records.
        window_stride: Step between windows in seconds (default: half a window, e.g. 1.25 s).
        aggregate: How window scores make a record score: ``"max"`` or ``"mean"``.
        min_positives_per_class: Take this many positive records (patients) of each class
            into the label-fraction sample first: a class-balanced few-shot set instead of
            a plain fraction (0, the default: none). Recorded in ``details``.
        amp: Mixed precision of the embedding forward passes, and of fine-tuning when no
            ``finetune_config`` is given (:func:`ecgssl.precision.resolve_amp`: ``"auto"``,
            ``True`` or ``False``).
    """
    return evaluate_fractions(
        encoder, dataset, (label_fraction,), protocol, seed, device, batch_size,
        finetune_config, knn_k, n_boot, allow_leakage, window_seconds, window_stride, aggregate,
        min_positives_per_class, amp,
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
    window_seconds: float | None = None,
    window_stride: float | None = None,
    aggregate: str = "max",
    min_positives_per_class: int = 0,
    amp: bool | str = "auto",
) -> list[EvaluationResult]:
    """:func:`evaluate_encoder` at several label fractions, embedding every record once
    (frozen-embedding protocols). Arguments as in :func:`evaluate_encoder`."""
    if protocol not in PROTOCOLS:
        raise InvalidValueError(f"unknown protocol {protocol!r}; available: {', '.join(PROTOCOLS)}")
    check_amp(amp)
    if dataset.labels is None:
        raise InvalidValueError(f"dataset {dataset.name!r} has no labels to evaluate against")
    if dataset.split is None:
        raise InvalidValueError(f"dataset {dataset.name!r} has no train/val/test split")
    if dataset.n_leads != encoder.n_leads:
        raise InvalidValueError(
            f"dataset {dataset.name!r} has {dataset.n_leads} leads, the encoder expects "
            f"{encoder.n_leads}"
        )
    encoder.check_fs(dataset.fs, f"the records of dataset {dataset.name!r}")
    windows = _window_spec(dataset, protocol, window_seconds, window_stride, aggregate)
    parts = {s: dataset.subset(s) for s in ("train", "val", "test")}
    leaked = check_leakage(encoder, parts["test"], allow_leakage)
    train_all = parts["train"]
    assert train_all.labels is not None
    samples = [
        sample_label_fraction(
            train_all.labels, f, seed, train_all.patient_ids, min_positives_per_class
        )
        for f in label_fractions
    ]
    labels = {s: np.asarray(parts[s].labels) for s in ("train", "val", "test")}
    feats: dict[str, np.ndarray] = {}
    n_win = 1
    if protocol != "finetune":
        for s in ("train", "val", "test"):
            x = parts[s].signals
            if windows is not None:
                x, n_win = _cut_windows(x, *windows)
            feats[s] = embed(encoder, x, batch_size=batch_size, device=device, amp=amp)
    results = []
    for fraction, sample in zip(label_fractions, samples):
        idx = sample.indices
        details: dict[str, Any] = {
            "leaked_test_records": leaked,
            "min_positives_per_class": min_positives_per_class,
            "n_train_patients": sample.n_patients,
            "classes_without_positive": [
                c for c, k in zip(dataset.classes, sample.class_counts) if k == 0
            ],
        }
        y_train = labels["train"][idx]
        if protocol == "finetune":
            cfg = finetune_config or FinetuneConfig(seed=seed, amp=amp)
            ft = finetune(
                encoder, (train_all.signals[idx], y_train), (parts["val"].signals, labels["val"]),
                multilabel=dataset.multilabel, config=cfg, device=device,
            )  # fmt: skip
            val_scores = ft.scores(parts["val"].signals, batch_size)
            test_scores = ft.scores(parts["test"].signals, batch_size)
            details.update(best_epoch=ft.best_epoch, val_macro_auroc=ft.val_macro_auroc)
        else:
            # Windowed: record r's windows are rows r * n_win ... (r + 1) * n_win - 1.
            rows = (np.asarray(idx)[:, None] * n_win + np.arange(n_win)).ravel()
            tr, y_tr = feats["train"][rows], np.repeat(y_train, n_win, axis=0)
            y_val_w = np.repeat(labels["val"], n_win, axis=0)
            if protocol == "linear":
                probe = LinearProbe().fit(tr, y_tr, feats["val"], y_val_w)
                val_scores = probe.decision_function(feats["val"])
                test_scores = probe.decision_function(feats["test"])
                details.update(C=probe.C, val_macro_auroc=probe.val_macro_auroc)
            else:
                val_scores = knn_scores(tr, y_tr, feats["val"], k=knn_k)
                test_scores = knn_scores(tr, y_tr, feats["test"], k=knn_k)
                details.update(k=min(knn_k, len(rows)))
            if windows is not None:
                val_scores = _aggregate(val_scores, n_win, aggregate)
                test_scores = _aggregate(test_scores, n_win, aggregate)
                details.update(windows_per_record=n_win, aggregate=aggregate)
        metrics = _metrics(dataset, labels, val_scores, test_scores, n_boot, seed)
        results.append(
            EvaluationResult(
                metrics=metrics,
                protocol=protocol,
                label_fraction=fraction,
                n_train=len(idx),
                n_test=len(parts["test"]),
                details=details,
                test_scores=np.asarray(test_scores, dtype=np.float32),
            )
        )
    return results


def _window_spec(
    dataset: ECGDataset,
    protocol: str,
    window_seconds: float | None,
    window_stride: float | None,
    aggregate: str,
) -> tuple[int, int] | None:
    """Window and stride in samples, checked; ``None`` for whole-record evaluation."""
    if window_seconds is None:
        if window_stride is not None:
            raise InvalidValueError("window_stride needs window_seconds")
        return None
    if protocol == "finetune":
        raise InvalidValueError("windowed evaluation supports the 'linear' and 'knn' protocols")
    if aggregate not in ("max", "mean"):
        raise InvalidValueError(f"aggregate must be 'max' or 'mean', got {aggregate!r}")
    stride_s = window_seconds / 2 if window_stride is None else window_stride
    if not (window_seconds > 0 and stride_s > 0):
        raise InvalidValueError(
            f"window_seconds and window_stride must be > 0, got {window_seconds}, {stride_s}"
        )
    win, stride = round(window_seconds * dataset.fs), max(1, round(stride_s * dataset.fs))
    if win > dataset.length:
        raise InvalidValueError(
            f"window_seconds={window_seconds} ({win} samples) is longer than the records of "
            f"{dataset.name!r} ({dataset.length} samples, {dataset.duration:g} s)"
        )
    return win, stride


def _cut_windows(x: np.ndarray, win: int, stride: int) -> tuple[np.ndarray, int]:
    """(records, leads, time) -> (records * n_win, leads, win), windows of a record adjacent."""
    t = torch.from_numpy(np.ascontiguousarray(x))
    w = t.unfold(-1, win, stride)  # (records, leads, n_win, win)
    n_win = w.shape[2]
    return w.permute(0, 2, 1, 3).reshape(-1, x.shape[1], win).numpy(), n_win


def _aggregate(scores: np.ndarray, n_win: int, how: str) -> np.ndarray:
    s = scores.reshape(-1, n_win, scores.shape[1])
    return s.max(axis=1) if how == "max" else s.mean(axis=1)


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
