"""Records read on demand from one or several signal caches: what streamed pretraining
draws its batches from (:class:`ecgssl.training.stream_batches.StreamBatches`).

A :class:`StreamedSignals` never holds the signals: it knows where each record lives (a
source and a row in it) and :meth:`StreamedSignals.read` fetches a batch's rows. The order
of an epoch is one int64 array drawn from a ``torch.Generator`` (no per-record Python
objects):

* one source (or several without weights): ``torch.randperm`` over all records, exactly
  the permutation the in-memory path draws, so that a streamed run equals an in-memory run
  at the same seed;
* several sources with ``weights``: every position of the epoch picks a source with
  probability proportional to its weight, and each source hands out its records in its
  own random permutation (cycled when a source is drawn more often than it has records).
  An epoch has ``epoch_records`` positions (default: the total number of records).

Sources are :class:`~ecgssl.data.signal_cache.SignalCache` s (positioned reads, bounded
memory) or arrays (e.g. the memory-mapped signals of a cached :class:`ECGDataset`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from ecgssl.data.preprocess import canonical_lead
from ecgssl.data.signal_cache import SignalCache, open_signal_cache
from ecgssl.errors import InvalidTypeError, InvalidValueError

__all__ = ["ArrayRows", "RowSource", "StreamedSignals", "stream_caches"]


class RowSource(Protocol):
    """Anything that reads (n, leads, time) float32 records by row."""

    shape: tuple[int, int, int]

    def read(self, rows: np.ndarray) -> np.ndarray:
        """Records at ``rows`` as float32 (n, leads, time)."""
        ...


class ArrayRows:
    """A (records, leads, time) array (a ``np.memmap`` included) as a :class:`RowSource`:
    each read copies only the rows asked for, in ascending row order."""

    def __init__(self, signals: np.ndarray) -> None:
        if signals.ndim != 3:
            raise InvalidValueError(f"signals must be (records, leads, time), got {signals.shape}")
        self.signals = signals
        self.shape: tuple[int, int, int] = (int(signals.shape[0]), int(signals.shape[1]),
                                            int(signals.shape[2]))  # fmt: skip

    def read(self, rows: np.ndarray) -> np.ndarray:
        order = np.argsort(rows, kind="stable")
        out = np.empty((len(rows), *self.shape[1:]), dtype=np.float32)
        out[order] = self.signals[rows[order]]
        return out


class StreamedSignals:
    """A training set read batch by batch from row sources (see the module docstring).

    Args:
        sources: Row sources with equal rate and length.
        fs: Sampling rate in Hz.
        leads: Lead names of the records :meth:`read` returns.
        lead_index: Per source, the source's lead columns to read, in ``leads`` order
            (``None``: all, as stored).
        rows: Per source, the rows that belong to the set (``None``: all), e.g. a train split.
        weights: Sampling weight per source (``None``: every record once per epoch).
        epoch_records: Records per epoch with weights (default: all records of all sources).
        patient_ids: Integer patient code per record (one source, no weights), or ``None``.
        name: Name for checkpoints and messages.
        info: Metadata carried into checkpoints (preprocessing, normalisation, sources).
    """

    def __init__(
        self,
        sources: Sequence[RowSource],
        *,
        fs: float,
        leads: Sequence[str],
        lead_index: Sequence[np.ndarray | None] | None = None,
        rows: Sequence[np.ndarray | None] | None = None,
        weights: Sequence[float] | None = None,
        epoch_records: int | None = None,
        patient_ids: Tensor | None = None,
        name: str = "streamed",
        info: dict[str, Any] | None = None,
    ) -> None:
        if not sources:
            raise InvalidValueError("StreamedSignals needs at least one source")
        k = len(sources)
        lengths = sorted({s.shape[2] for s in sources})
        if len(lengths) > 1:
            raise InvalidValueError(f"the sources hold records of {lengths} samples: build every cache with one window")  # fmt: skip
        self.sources = list(sources)
        self.fs, self.leads, self.name = float(fs), tuple(leads), name
        self.length = lengths[0]
        self.lead_index = list(lead_index) if lead_index is not None else [None] * k
        self.rows = [None if r is None else np.asarray(r, dtype=np.int64)
                     for r in (rows if rows is not None else [None] * k)]  # fmt: skip
        if len(self.lead_index) != k or len(self.rows) != k:
            raise InvalidValueError(f"lead_index and rows need one entry per source ({k})")
        for s, li in zip(self.sources, self.lead_index):
            n_out = s.shape[1] if li is None else len(li)
            if n_out != len(self.leads):
                raise InvalidValueError(f"{len(self.leads)} lead names for {n_out} leads read")
        self.sizes = np.array([s.shape[0] if r is None else len(r)
                               for s, r in zip(self.sources, self.rows)], dtype=np.int64)  # fmt: skip
        if (self.sizes == 0).any():
            raise InvalidValueError(f"a source has no records (sizes {self.sizes.tolist()})")
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)])
        self.weights = None if weights is None else _check_weights(weights, k)
        total = int(self.sizes.sum())
        if epoch_records is not None and (not isinstance(epoch_records, int) or epoch_records < 1):
            raise InvalidValueError(f"epoch_records must be a positive integer, got {epoch_records!r}")  # fmt: skip
        self.epoch_records = epoch_records or total
        if self.weights is None and self.epoch_records != total:
            raise InvalidValueError("epoch_records applies to weighted sources only")
        if patient_ids is not None and (self.weights is not None or patient_ids.shape != (total,)):
            raise InvalidValueError("patient_ids need one entry per record of an unweighted set")
        self.patient_ids = patient_ids
        self.info = dict(info or {})

    def __len__(self) -> int:
        """Records of the set (all sources)."""
        return int(self.offsets[-1])

    @property
    def n_leads(self) -> int:
        return len(self.leads)

    def epoch_order(self, generator: torch.Generator) -> Tensor:
        """The records of one epoch, as int64 indices into the set (``epoch_records`` of them)."""
        n = len(self)
        if self.weights is None:
            return torch.randperm(n, generator=generator)
        w = torch.as_tensor(self.weights, dtype=torch.float64)
        src = torch.multinomial(w, self.epoch_records, replacement=True, generator=generator)
        out = torch.empty(self.epoch_records, dtype=torch.int64)
        for s, size in enumerate(self.sizes.tolist()):
            at = torch.nonzero(src == s).squeeze(1)
            perm = torch.randperm(size, generator=generator)
            out[at] = perm[torch.arange(len(at)) % size] + int(self.offsets[s])
        return out

    def read(self, index: np.ndarray | Tensor) -> np.ndarray:
        """The records at set indices ``index`` as float32 (n, leads, time), in that order."""
        idx = np.asarray(index, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"indices must lie in 0..{len(self) - 1}")
        src = np.searchsorted(self.offsets, idx, side="right") - 1
        out = np.empty((len(idx), len(self.leads), self.length), dtype=np.float32)
        for s in np.unique(src).tolist():
            at = np.flatnonzero(src == s)
            local = idx[at] - self.offsets[s]
            subset = self.rows[s]
            rows = local if subset is None else subset[local]
            x = self.sources[s].read(rows)
            li = self.lead_index[s]
            out[at] = x if li is None else x[:, li]
        return out

    def __repr__(self) -> str:
        w = "" if self.weights is None else f", weights {self.weights}"
        return (f"StreamedSignals({self.name!r}: {len(self)} records x {self.n_leads} leads x "
                f"{self.length} samples at {self.fs:g} Hz from {len(self.sources)} source(s){w})")  # fmt: skip


def _check_weights(weights: Sequence[float], k: int) -> list[float]:
    w = [float(v) for v in weights]
    if len(w) != k:
        raise InvalidValueError(f"{len(w)} weights for {k} sources")
    if any(not math.isfinite(v) or v < 0 for v in w) or sum(w) <= 0:
        raise InvalidValueError(f"weights must be finite, >= 0 and not all 0, got {w}")
    return w


def stream_caches(
    caches: Sequence[SignalCache | str | Any],
    weights: Sequence[float] | None = None,
    leads: Sequence[str] | None = None,
    *,
    epoch_records: int | None = None,
    name: str = "streamed",
) -> StreamedSignals:
    """Stream one or several signal caches as one unlabeled pretraining set.

    The streamed counterpart of :func:`ecgssl.data.combine_datasets`: the caches must share
    the sampling rate and record length (build each at the common rate and window; see
    :func:`ecgssl.data.cache_build.cache_records`); leads are matched by name
    (case-insensitively, canonical spelling). Rows a build skipped are left out.

    Args:
        caches: Opened caches or their paths (cache folders or store ``.npy`` files).
        weights: Sampling weight per cache (``None``: every record once per epoch). With
            weights, an epoch draws ``epoch_records`` records, cache ``i`` with probability
            ``weights[i] / sum(weights)``.
        leads: Leads to train on, in this order (default: those every cache has, in the
            first cache's order).
        epoch_records: Records per epoch with weights (default: all records).
        name: Name of the set.

    Raises:
        ValueError: caches with different rates or lengths, a lead a cache lacks, bad weights.
    """
    if not caches:
        raise InvalidValueError("stream_caches needs at least one cache")
    opened = [c if isinstance(c, SignalCache) else open_signal_cache(c) for c in caches]
    for c in opened:
        if not isinstance(c, SignalCache):
            raise InvalidTypeError(f"caches must be SignalCaches or paths, got {type(c).__name__}")
    rates = sorted({c.fs for c in opened})
    if len(rates) > 1:
        raise InvalidValueError(f"the caches are sampled at {rates} Hz: build them at one rate")
    if leads is None:
        others = [{canonical_lead(n).lower() for n in c.leads} for c in opened[1:]]
        leads = [n for n in opened[0].leads if all(canonical_lead(n).lower() in o for o in others)]
        if not leads:
            raise InvalidValueError("the caches share no lead")
    lead_index = []
    for c in opened:
        where = {canonical_lead(n).lower(): i for i, n in enumerate(c.leads)}
        idx = [where.get(canonical_lead(n).lower(), -1) for n in leads]
        if -1 in idx:
            absent = [n for n, i in zip(leads, idx) if i < 0]
            raise InvalidValueError(f"cache {c.path} lacks lead(s) {absent} (it has {list(c.leads)})")  # fmt: skip
        lead_index.append(None if idx == list(range(c.n_leads)) else np.asarray(idx))
    rows = [c.valid_rows() if len(c.skipped_rows) else None for c in opened]
    info = {"sources": [{"path": str(c.path), "records": len(c), "dtype": c.dtype,
                         **c.info} for c in opened], "weights": None if weights is None else list(weights)}  # fmt: skip
    first = opened[0].info
    for key in ("preprocessing", "normalisation"):
        if key in first:
            info[key] = first[key]
    return StreamedSignals(
        opened, fs=rates[0], leads=[canonical_lead(n) for n in leads], lead_index=lead_index,
        rows=rows, weights=weights, epoch_records=epoch_records, name=name, info=info,
    )  # fmt: skip
