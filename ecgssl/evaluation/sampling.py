"""Seeded, patient-aware, stratified label-fraction sampling.

The sampler lives in :mod:`ecgssl.data.sampling` (iterative stratification, patient-aware);
this module keeps the evaluation-side entry point.
"""

from __future__ import annotations

from ecgssl.data.sampling import label_fraction_indices

__all__ = ["label_fraction_indices"]
