"""Build a signal cache (:mod:`ecgssl.data.signal_cache`) of any size in bounded memory,
resumably.

:func:`build_signal_cache` asks a producer for the records chunk by chunk (a chunk is about
64 MB) and writes each chunk at its place in a preallocated ``signals.npy.partial`` with
positioned writes, so memory holds one chunk whatever the corpus size. After every chunk
the data are flushed to disk (``fdatasync``) and then ``progress.json`` (records done, rows
skipped, samples clipped) is replaced atomically: a build killed at any point (SIGKILL,
power loss) restarts at the first chunk not recorded as done, never from zero. When the
last chunk is done the data file is renamed to ``signals.npy`` and ``manifest.json`` is
written last, atomically; readers refuse a folder without it, so a half-written cache is
never used. A tqdm bar shows records/s and the ETA.

:func:`cache_records` does this for records on disk (a reader and preprocessing options, as
the built-in loaders use), resampling and filtering each chunk as it goes, optionally in
worker processes (``n_jobs``).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ecgssl.data.cache import atomic_write_json
from ecgssl.data.preprocess import PreprocessConfig
from ecgssl.data.signal_cache import (
    CACHE_FORMAT,
    MANIFEST,
    PROGRESS,
    SIGNALS,
    SignalCache,
    check_storage,
    encode,
    open_signal_cache,
)
from ecgssl.data.store import Reader, SourceRecord, _process, _resolve
from ecgssl.errors import InvalidValueError

__all__ = ["Producer", "build_signal_cache", "cache_records"]

#: ``produce(start, stop)``: records ``start .. stop - 1`` as a float (n, leads, time) array,
#: or ``(signals, ok)`` with ``ok`` a bool (n,) mask, False for a record that could not be
#: read (its row is stored as zeros and listed in the manifest's ``skipped_rows``).
Producer = Callable[[int, int], "np.ndarray | tuple[np.ndarray, np.ndarray]"]
_CHUNK_BYTES = 64 * 2**20
_PARTIAL = SIGNALS + ".partial"


def _plan(n: int, fs: float, leads: Sequence[str], length: int, dtype: str,
          scale: float | None, chunk: int, key: str | None) -> dict[str, Any]:  # fmt: skip
    return {"n_records": n, "fs": float(fs), "leads": list(leads), "length": length,
            "dtype": dtype, "scale": scale, "chunk_records": chunk, "key": key}  # fmt: skip


def build_signal_cache(
    folder: str | Path,
    produce: Producer,
    n_records: int,
    *,
    fs: float,
    leads: Sequence[str],
    length: int,
    dtype: str = "float32",
    scale: float | None = None,
    chunk_records: int | None = None,
    key: str | None = None,
    record_ids: Sequence[str] | None = None,
    info: dict[str, Any] | None = None,
    progress: bool = True,
    desc: str = "Building cache",
) -> SignalCache:
    """Write ``n_records`` records from ``produce`` into the cache folder ``folder``; resume an
    interrupted build of the same plan; return the opened cache.

    Args:
        folder: The cache folder (created).
        produce: See :data:`Producer`; called with increasing, chunk-aligned ranges, and
            again for a chunk a killed build did not finish, so it must be deterministic.
        n_records: Number of records.
        fs: Sampling rate in Hz of the records ``produce`` returns.
        leads: Their lead names.
        length: Their number of time samples.
        dtype: Storage: ``"float32"`` (exact), ``"float16"`` or ``"int16"`` (half the disk
            and read volume; the error each adds is stated in :mod:`ecgssl.data.signal_cache`).
        scale: int16 step in signal units (default 1e-3).
        chunk_records: Records per chunk (default: about 64 MB of float32).
        key: Any string identifying the source and options: a folder holding a build (or an
            unfinished one) with another key, rate, shape or storage is refused rather than
            mixed.
        record_ids: Id per record, stored in the manifest.
        info: JSON-like metadata stored in the manifest (source, preprocessing...).
        progress: Show a progress bar with the ETA.
        desc: The bar's label.

    Raises:
        ValueError: invalid options, a producer returning the wrong shape or non-finite
            values, or a folder holding a different cache.
    """
    dtype, scale = check_storage(dtype, scale)
    if isinstance(n_records, bool) or not isinstance(n_records, int) or n_records < 1:
        raise InvalidValueError(f"n_records must be a positive integer, got {n_records!r}")
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise InvalidValueError(f"length must be a positive number of samples, got {length!r}")
    if record_ids is not None and len(record_ids) != n_records:
        raise InvalidValueError(f"{len(record_ids)} record_ids for {n_records} records")
    shape = (n_records, len(leads), length)
    row_bytes = len(leads) * length * np.dtype(dtype).itemsize
    chunk = chunk_records or max(1, _CHUNK_BYTES // (len(leads) * length * 4))
    plan = _plan(n_records, fs, leads, length, dtype, scale, chunk, key)
    root = Path(folder).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    if (root / MANIFEST).exists():
        done_plan = json.loads((root / MANIFEST).read_text()).get("plan")
        if done_plan != plan:
            raise InvalidValueError(
                f"{root} holds another cache (built with {done_plan}); choose another folder "
                "or delete it"
            )
        return open_signal_cache(root)
    state = _start(root, plan, shape, dtype)
    bar = tqdm(total=n_records, initial=state["done"], desc=desc, unit="rec",
               disable=not progress, smoothing=0.05)  # fmt: skip
    partial = root / _PARTIAL
    header = _header_bytes(partial)
    fd = os.open(partial, os.O_WRONLY | getattr(os, "O_BINARY", 0))
    try:
        for start in range(state["done"], n_records, chunk):
            stop = min(start + chunk, n_records)
            got = produce(start, stop)
            x, ok = got if isinstance(got, tuple) else (got, None)
            if tuple(np.shape(x)) != (stop - start, *shape[1:]):
                raise InvalidValueError(
                    f"produce({start}, {stop}) returned shape {np.shape(x)}, expected "
                    f"{(stop - start, *shape[1:])}"
                )
            if ok is not None and not np.all(ok):
                x = np.array(x, dtype=np.float32)
                x[~np.asarray(ok, dtype=bool)] = 0.0
                state["skipped_rows"] += (start + np.flatnonzero(~np.asarray(ok))).tolist()
            stored, clipped = encode(x, dtype, scale)
            _pwrite_all(fd, stored.tobytes(), header + start * row_bytes)
            os.fdatasync(fd) if hasattr(os, "fdatasync") else os.fsync(fd)
            state["done"], state["clipped"] = stop, state["clipped"] + clipped
            atomic_write_json(root / PROGRESS, state)  # after the data are on disk
            bar.update(stop - start)
    finally:
        os.close(fd)
        bar.close()
        close = getattr(produce, "close", None)
        if callable(close):
            close()
    os.replace(partial, root / SIGNALS)
    manifest = {
        "format": CACHE_FORMAT, "shape": list(shape), "dtype": dtype, "scale": scale,
        "fs": float(fs), "leads": list(leads), "skipped_rows": sorted(state["skipped_rows"]),
        "clipped": state["clipped"], "plan": plan, "info": dict(info or {}),
        **({"record_ids": [str(r) for r in record_ids]} if record_ids is not None else {}),
    }  # fmt: skip
    atomic_write_json(root / MANIFEST, manifest)  # last: marks the cache as complete
    with contextlib.suppress(OSError):
        os.unlink(root / PROGRESS)
    return open_signal_cache(root)


def _start(root: Path, plan: dict[str, Any], shape: tuple[int, ...], dtype: str) -> dict[str, Any]:
    """The progress of an unfinished build of ``plan`` in ``root``, or a fresh build's."""
    marker, partial = root / PROGRESS, root / _PARTIAL
    if marker.exists():
        try:
            state = json.loads(marker.read_text())
        except (OSError, ValueError):
            state = None
        if state is not None and state.get("plan") != plan:
            raise InvalidValueError(
                f"{root} holds an unfinished build of another cache ({state.get('plan')}); "
                "choose another folder or delete it"
            )
        if state is not None:
            if partial.exists():
                return state
            if (root / SIGNALS).exists() and state["done"] == plan["n_records"]:
                os.replace(root / SIGNALS, partial)  # killed between rename and manifest
                return state
    np.lib.format.open_memmap(partial, mode="w+", dtype=np.dtype(dtype), shape=shape)  # sparse
    state = {"plan": plan, "done": 0, "skipped_rows": [], "clipped": 0}
    atomic_write_json(marker, state)
    return state


def _header_bytes(npy: Path) -> int:
    with open(npy, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else (
            np.lib.format.read_array_header_2_0)  # fmt: skip
        read(f)
        return f.tell()


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view, done = memoryview(data), 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], offset + done)


class _RecordChunks:
    """A :data:`Producer` over records on disk: read, resample, filter and crop each chunk,
    in ``n_jobs`` worker processes (one chunk in flight, so memory stays bounded)."""

    def __init__(self, records: Sequence[SourceRecord], reader: Reader, config: PreprocessConfig,
                 fs: float, leads: tuple[str, ...], length: int, n_jobs: int) -> None:  # fmt: skip
        self.records, self.reader, self.config = records, reader, config
        self.fs, self.leads, self.length, self.n_jobs = fs, leads, length, n_jobs
        self.pool: ProcessPoolExecutor | None = None

    def __call__(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        items = [(i - start, self.records[i].path) for i in range(start, stop)]
        step = max(1, -(-len(items) // self.n_jobs))
        tasks = [(self.reader, self.config, self.fs, self.leads, self.length, items[s : s + step])
                 for s in range(0, len(items), step)]  # fmt: skip
        if self.n_jobs > 1 and self.pool is None:
            self.pool = ProcessPoolExecutor(self.n_jobs)
        results = self.pool.map(_process, tasks) if self.pool is not None else map(_process, tasks)
        x = np.zeros((stop - start, len(self.leads), self.length), dtype=np.float32)
        ok = np.zeros(stop - start, dtype=bool)
        for part in results:
            for i, sig, _mask, _extra in part:
                if sig is not None:
                    x[i], ok[i] = sig, True
        return x, ok

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None


def cache_records(
    folder: str | Path,
    name: str,
    records: Sequence[SourceRecord],
    reader: Reader,
    config: PreprocessConfig,
    *,
    dtype: str = "float32",
    scale: float | None = None,
    n_jobs: int = 1,
    chunk_records: int | None = None,
    progress: bool = True,
) -> SignalCache:
    """Preprocess records on disk into a signal cache, chunk by chunk (see the module).

    Records that cannot be read are stored as zero rows listed in ``skipped_rows`` (streamed
    training leaves them out). Give ``config.fs`` and ``config.window`` so that every record
    comes out at one rate and length; the first readable record sets the leads otherwise.

    Example (MIMIC-IV-ECG at 100 Hz, 10 s, int16)::

        from ecgssl.data.mimic_iv_ecg import read_mimic_ecg
        cache_records("/scratch/mimic100", "mimic_iv_ecg", records, read_mimic_ecg,
                      PreprocessConfig(fs=100, window=10), dtype="int16", n_jobs=16)

    Args:
        folder: The cache folder.
        name: Dataset name (progress bar, manifest).
        records: The records, in row order.
        reader: Top-level function reading one record (picklable for ``n_jobs`` > 1).
        config: Preprocessing options (rate, window, filters, leads).
        dtype: Storage dtype (see :func:`build_signal_cache`).
        scale: int16 step (see :func:`build_signal_cache`).
        n_jobs: Worker processes preprocessing each chunk.
        chunk_records: Records per chunk (default: about 64 MB).
        progress: Show a progress bar with the ETA.
    """
    if not records:
        raise InvalidValueError(f"{name}: no records to cache")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise InvalidValueError(f"n_jobs must be a positive integer, got {n_jobs!r}")
    fs, leads, length = _resolve(list(records), reader, config, {})
    key = json.dumps({"dataset": name, "config": config.to_dict(),
                      "reader": f"{reader.__module__}.{reader.__qualname__}"}, sort_keys=True,
                     default=str)  # fmt: skip
    produce = _RecordChunks(records, reader, config, fs, leads, length, n_jobs)
    return build_signal_cache(
        folder, produce, len(records), fs=fs, leads=leads, length=length, dtype=dtype,
        scale=scale, chunk_records=chunk_records, key=key,
        record_ids=[r.record_id for r in records],
        info={"dataset": name, "preprocessing": config.to_dict()}, progress=progress,
        desc=f"Caching {name}",
    )  # fmt: skip
