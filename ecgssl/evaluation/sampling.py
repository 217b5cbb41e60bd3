"""Seeded label-fraction sampling that keeps every class represented.

The sampler lives in :mod:`ecgssl.data.sampling` (iterative stratification, patient-aware);
this module keeps the evaluation-side entry point.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ecgssl.data.sampling import sample_label_fraction

__all__ = ["label_fraction_indices"]


def label_fraction_indices(
    labels: np.ndarray,
    fraction: float,
    seed: int = 0,
    patient_ids: Sequence[object] | np.ndarray | None = None,
) -> np.ndarray:
    """Indices of a seeded, stratified ``fraction`` of the records, every class kept where
    possible; with ``patient_ids``, whole patients are drawn.

    See :func:`ecgssl.data.sampling.sample_label_fraction`. The result is sorted and
    deterministic for a given seed.

    Args:
        labels: Multi-hot labels (records, classes).
        fraction: Fraction of records to keep, in (0, 1].
        seed: Random seed.
        patient_ids: Optional patient per record.

    Raises:
        ValueError: ``fraction`` outside (0, 1].
    """
    return sample_label_fraction(labels, fraction, seed, patient_ids).indices
