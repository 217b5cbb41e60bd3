"""Downstream evaluation of an encoder on a labeled dataset's train/val/test splits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ecgssl.data.base import ECGDataset
from ecgssl.encoders.base import Encoder
from ecgssl.evaluation.embed import embed
from ecgssl.evaluation.linear import LinearProbe
from ecgssl.evaluation.sampling import label_fraction_indices

__all__ = ["PROTOCOLS", "EvaluationResult", "evaluate_encoder"]

PROTOCOLS = ("linear",)


@dataclass
class EvaluationResult:
    """Metrics of one evaluation run.

    Attributes:
        metrics: ``macro_auroc`` (primary), ``macro_auprc``, per-class ``auroc/<class>`` and,
            for single-label tasks, ``accuracy``.
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
) -> EvaluationResult:
    """Evaluate a frozen encoder on ``dataset`` (needs labels and train/val/test splits).

    Args:
        encoder: The encoder to evaluate.
        dataset: A labeled dataset with a split assignment.
        protocol: ``"linear"`` (logistic-regression probe on frozen embeddings).
        label_fraction: Fraction of training labels to use, in (0, 1]: a stratified sample
            (:func:`ecgssl.data.sampling.sample_label_fraction`), of whole patients when the
            dataset has patient ids.
        seed: Seed of the label-fraction sample.
        device: Device for the embeddings.
        batch_size: Records per forward pass when embedding.
    """
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
    train = parts["train"]
    assert train.labels is not None
    idx = label_fraction_indices(train.labels, label_fraction, seed, train.patient_ids)
    train = train.select(idx)
    feats = {
        name: embed(encoder, part.signals, batch_size=batch_size, device=device)
        for name, part in (("train", train), ("val", parts["val"]), ("test", parts["test"]))
    }
    labels = {"train": train.labels, "val": parts["val"].labels, "test": parts["test"].labels}
    probe = LinearProbe()
    train_xy, val_xy, test_xy = (
        (feats[s], np.asarray(labels[s])) for s in ("train", "val", "test")
    )
    res = probe.fit_evaluate(
        train_xy,
        val_xy,
        test_xy,
        classes=dataset.classes,
        multilabel=dataset.multilabel,
    )
    return EvaluationResult(
        metrics=res.metrics, protocol=protocol, label_fraction=label_fraction,
        n_train=len(train), n_test=len(parts["test"]),
        details={"C": res.C, "val_macro_auroc": res.val_macro_auroc},
    )  # fmt: skip
