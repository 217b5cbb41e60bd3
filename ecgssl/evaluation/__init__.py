"""Downstream evaluation: embeddings, linear probe, kNN, fine-tuning, label fractions,
metrics, the leakage guard, and the online monitor of a pretraining run."""

from ecgssl.evaluation.batchnorm import recalibrate_batchnorm
from ecgssl.evaluation.embed import embed
from ecgssl.evaluation.finetune import FinetuneConfig, FinetuneResult, finetune
from ecgssl.evaluation.knn import knn_scores
from ecgssl.evaluation.leakage import LeakageError, check_leakage, record_provenance
from ecgssl.evaluation.linear import LinearProbe, ProbeResult
from ecgssl.evaluation.metrics import (
    best_thresholds,
    bootstrap_ci,
    classification_metrics,
    f1_at_thresholds,
    macro_auprc,
    macro_auroc,
)
from ecgssl.evaluation.monitor import OnlineMonitor
from ecgssl.evaluation.protocol import (
    PROTOCOLS,
    EvaluationResult,
    evaluate_encoder,
    evaluate_fractions,
)
from ecgssl.evaluation.sampling import label_fraction_indices

__all__ = [
    "PROTOCOLS",
    "EvaluationResult",
    "FinetuneConfig",
    "FinetuneResult",
    "LeakageError",
    "LinearProbe",
    "OnlineMonitor",
    "ProbeResult",
    "best_thresholds",
    "bootstrap_ci",
    "check_leakage",
    "classification_metrics",
    "embed",
    "evaluate_encoder",
    "evaluate_fractions",
    "f1_at_thresholds",
    "finetune",
    "knn_scores",
    "label_fraction_indices",
    "macro_auprc",
    "macro_auroc",
    "recalibrate_batchnorm",
    "record_provenance",
]
