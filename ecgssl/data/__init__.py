"""Datasets as in-memory (records, leads, time) arrays; see ``DATASETS``."""

from ecgssl.data.arrays import hash_split, load_arrays
from ecgssl.data.base import SPLITS, ECGDataset
from ecgssl.data.cache import atomic_write_npz, cache_dir, load_npz
from ecgssl.data.synthetic import CLASSES as SYNTHETIC_CLASSES
from ecgssl.data.synthetic import load_synthetic, simulate_record

__all__ = [
    "SPLITS",
    "SYNTHETIC_CLASSES",
    "ECGDataset",
    "atomic_write_npz",
    "cache_dir",
    "hash_split",
    "load_arrays",
    "load_npz",
    "load_synthetic",
    "simulate_record",
]
