"""Datasets as (records, leads, time) arrays; see ``DATASETS``.

Built in: ``synthetic``, ``arrays``, and loaders of real data in their official layouts:
``ptbxl``, ``mimic_iv_ecg``, ``code15``, ``physionet2021`` (and its sources ``cpsc2018``, ``georgia``, ``chapman``,
``ningbo``, ``ptb``, ``ptbxl_cinc``, ``incart``, ``cpsc2018_extra``), ``ludb``, ``hce`` and
``wfdb_folder``; their preprocessed signals are cached (:mod:`ecgssl.data.store`).
``npz`` reads a preprocessed numpy archive, and ``combined`` (:func:`combine_datasets`)
joins the train splits of several datasets into one unlabeled pretraining set.
For corpora larger than memory, :func:`cache_records` / :func:`build_signal_cache` write a
signal cache chunk by chunk and :func:`stream_caches` streams one or several caches (with
per-source sampling weights) into pretraining without loading them.
"""

from ecgssl.data.arrays import hash_split, load_arrays
from ecgssl.data.base import SPLITS, ECGDataset
from ecgssl.data.cache import atomic_write_npz, cache_dir, load_npz
from ecgssl.data.cache_build import build_signal_cache, cache_records
from ecgssl.data.code15 import load_code15
from ecgssl.data.combine import combine_datasets, load_combined
from ecgssl.data.cpsc2018 import load_cpsc2018
from ecgssl.data.hce import load_hce
from ecgssl.data.ludb import load_ludb
from ecgssl.data.mimic_iv_ecg import load_mimic_iv_ecg
from ecgssl.data.npz_archive import load_npz_archive
from ecgssl.data.physionet import load_physionet2021
from ecgssl.data.preprocess import PreprocessConfig
from ecgssl.data.ptbxl import load_ptbxl
from ecgssl.data.sampling import iterative_stratification, sample_label_fraction
from ecgssl.data.signal_cache import SignalCache, open_signal_cache
from ecgssl.data.streamed import StreamedSignals, stream_caches
from ecgssl.data.synthetic import CLASSES as SYNTHETIC_CLASSES
from ecgssl.data.synthetic import load_synthetic, simulate_record
from ecgssl.data.wfdb_folder import load_wfdb_folder

__all__ = [
    "SPLITS",
    "SYNTHETIC_CLASSES",
    "ECGDataset",
    "PreprocessConfig",
    "SignalCache",
    "StreamedSignals",
    "atomic_write_npz",
    "build_signal_cache",
    "cache_dir",
    "cache_records",
    "combine_datasets",
    "hash_split",
    "iterative_stratification",
    "load_arrays",
    "load_code15",
    "load_combined",
    "load_cpsc2018",
    "load_hce",
    "load_ludb",
    "load_mimic_iv_ecg",
    "load_npz",
    "load_npz_archive",
    "load_physionet2021",
    "load_ptbxl",
    "load_synthetic",
    "load_wfdb_folder",
    "open_signal_cache",
    "sample_label_fraction",
    "simulate_record",
    "stream_caches",
]
