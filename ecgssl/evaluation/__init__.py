"""Downstream evaluation: embeddings, linear probe, label fractions, metrics."""

from ecgssl.evaluation.embed import embed
from ecgssl.evaluation.linear import LinearProbe, ProbeResult
from ecgssl.evaluation.metrics import classification_metrics, macro_auprc, macro_auroc
from ecgssl.evaluation.protocol import PROTOCOLS, EvaluationResult, evaluate_encoder
from ecgssl.evaluation.sampling import label_fraction_indices

__all__ = [
    "PROTOCOLS",
    "EvaluationResult",
    "LinearProbe",
    "ProbeResult",
    "classification_metrics",
    "embed",
    "evaluate_encoder",
    "label_fraction_indices",
    "macro_auprc",
    "macro_auroc",
]
