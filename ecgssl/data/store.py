"""Preprocessed signals of a record collection: built once, in parallel, into a memory-mapped
``.npy`` plus a JSON manifest in the cache folder, and read from there on later loads.

The cache key hashes the dataset name, the reader, the preprocessing options and the name,
size and modification time of every source file, so editing, adding or removing a record
file (or changing an option) builds a new cache; a cached load opens the ``.npy`` with
``mmap_mode="c"`` and never reads a raw record. A build writes a temporary file that is
renamed into place only when complete, and the manifest (written last, atomically) marks a
cache as complete: a build killed half-way leaves nothing that looks finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ecgssl.data.cache import atomic_write_json, cache_dir, config_hash
from ecgssl.data.preprocess import (
    MissingLeadsError,
    PreprocessConfig,
    canonical_lead,
    preprocess_record,
    resample,
)
from ecgssl.data.records import Record
from ecgssl.errors import DataNotFoundError, InvalidValueError

__all__ = ["SourceRecord", "StoredSignals", "load_signals"]

_FORMAT = 1
_CHUNK = 16
Reader = Callable[[str], Record]


@dataclass(frozen=True)
class SourceRecord:
    """A record on disk: its id, the path its reader opens and the files it consists of."""

    record_id: str
    path: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class StoredSignals:
    """Preprocessed signals of the readable records, in source order.

    Attributes:
        signals: float32 (records, leads, time), memory-mapped when cached.
        record_ids: Id per row.
        fs: Sampling rate in Hz.
        leads: Lead names (canonical spelling).
        lead_missing: bool (records, leads): zero-filled leads.
        comments: Header comment lines per row (ages, sexes, diagnoses...).
        skipped: Record id -> why it was skipped (missing files, unreadable, corrupt).
        cache_path: The ``.npy`` file, or ``None`` when not cached.
        from_cache: Whether the signals came from an existing cache.
    """

    signals: np.ndarray
    record_ids: tuple[str, ...]
    fs: float
    leads: tuple[str, ...]
    lead_missing: np.ndarray
    comments: tuple[tuple[str, ...], ...]
    skipped: dict[str, str] = field(default_factory=dict)
    cache_path: Path | None = None
    from_cache: bool = False


class _ConfigError(InvalidValueError):
    """A record conflicts with the options (not a corrupt file): always raised."""


def load_signals(
    name: str,
    records: Sequence[SourceRecord],
    reader: Reader,
    config: PreprocessConfig,
    *,
    cache: bool | str | Path = True,
    strict: bool = False,
    n_jobs: int | None = None,
    progress: bool = True,
    url: str | None = None,
) -> StoredSignals:
    """Preprocessed signals of ``records``, from the cache or built (and cached).

    Records with a missing file, or that fail to read or hold NaN samples, are skipped with
    one warning that counts and names them (``strict=True`` raises instead).

    Args:
        name: Dataset name (cache file prefix, messages).
        records: The records, in output order.
        reader: Top-level function reading one record (run in worker processes).
        config: Preprocessing options.
        cache: ``True`` for :func:`ecgssl.data.cache.cache_dir`, a folder, or ``False``.
        strict: Raise instead of skipping missing or corrupt records (the error names every
            one of them).
        n_jobs: Worker processes (default: up to 8 cores; 1 builds in this process).
        progress: Show a progress bar while building.
        url: Where the official data can be downloaded (named when no record is found).

    Raises:
        FileNotFoundError: none of the records exists.
        ValueError: a record conflicts with the options (a lead, rate or length), or
            ``strict=True`` and a record is missing or corrupt.
    """
    if not records:
        raise DataNotFoundError(f"{name}: no records to load")
    present, skipped, stats = [], {}, []
    for rec in records:
        try:
            st = [os.stat(f) for f in rec.files]
        except OSError:
            absent = [f for f in rec.files if not os.path.exists(f)]
            skipped[rec.record_id] = f"missing {absent[0] if absent else rec.path}"
            continue
        present.append(rec)
        stats += [f"{f}\t{s.st_size}\t{s.st_mtime_ns}" for f, s in zip(rec.files, st)]
    if not present:
        first = records[0].files[0] if records[0].files else records[0].path
        where = f"; download the data from {url}" if url else ""
        raise DataNotFoundError(
            f"{name}: none of the {len(records)} expected records exists (e.g. {first}){where}"
        )
    if skipped and strict:
        _report(name, skipped, len(records), strict=True)
    key = config_hash({
        "format": _FORMAT, "dataset": name, "config": config.record_key(),
        "reader": f"{reader.__module__}.{reader.__qualname__}",
        "ids": hashlib.sha256("\n".join(r.record_id for r in present).encode()).hexdigest(),
        "files": hashlib.sha256("\n".join(stats).encode()).hexdigest(),
    })  # fmt: skip
    folder = _cache_folder(cache)
    stored = None
    if folder is not None:
        stored = _read_cache(folder / f"{name}-{key}", skipped)
    if stored is None:
        stored = _build(name, present, reader, config, skipped, folder, key, n_jobs, progress)
    if stored.skipped:
        _report(name, stored.skipped, len(records), strict=strict)
    return stored


def _cache_folder(cache: bool | str | Path) -> Path | None:
    if cache is False:
        return None
    folder = cache_dir() / "datasets" if cache is True else Path(cache).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _report(name: str, skipped: dict[str, str], total: int, strict: bool) -> None:
    shown = "; ".join(f"{k}: {v}" for k, v in list(skipped.items())[:10])
    more = f" (and {len(skipped) - 10} more)" if len(skipped) > 10 else ""
    msg = f"{name}: {len(skipped)} of {total} records skipped — {shown}{more}"
    if strict:
        raise InvalidValueError(msg + ". (strict=True; pass strict=False to skip them)")
    _warn(msg + ". Their ids are in dataset.info['skipped'].", UserWarning)


def _warn(message: str, category: type[Warning]) -> None:
    """Warn, pointing at the first caller outside ecgssl (whatever the call depth)."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith("ecgssl."):
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    warnings.warn(message, category, stacklevel=level)


def _read_cache(stem: Path, skipped: dict[str, str]) -> StoredSignals | None:
    manifest_path, npy = stem.with_suffix(".json"), stem.with_suffix(".npy")
    if not manifest_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        signals = np.load(npy, mmap_mode="c", allow_pickle=False)
        if list(signals.shape) != manifest["shape"]:
            raise InvalidValueError(f"shape {signals.shape} != manifest {manifest['shape']}")
    except (OSError, ValueError, KeyError) as e:
        _warn(f"cache {stem} is unreadable ({e}); rebuilding it", RuntimeWarning)
        return None
    missing = np.zeros(signals.shape[:2], dtype=bool)
    for row, cols in manifest["lead_missing"].items():
        missing[int(row), cols] = True
    return StoredSignals(
        signals=signals, record_ids=tuple(manifest["record_ids"]), fs=float(manifest["fs"]),
        leads=tuple(manifest["leads"]), lead_missing=missing,
        comments=tuple(tuple(c) for c in manifest["comments"]),
        skipped={**skipped, **manifest["skipped"]}, cache_path=npy, from_cache=True,
    )  # fmt: skip


def _resolve(
    present: list[SourceRecord], reader: Reader, config: PreprocessConfig, skipped: dict[str, str]
) -> tuple[float, tuple[str, ...], int]:
    """Output rate, leads and length: the options, or the first readable record's."""
    for rec in present:
        try:
            first = reader(rec.path)
        except Exception as e:
            skipped[rec.record_id] = f"unreadable ({type(e).__name__}: {e})"
            continue
        fs = float(config.fs) if config.fs is not None else first.fs
        leads = config.leads or tuple(canonical_lead(n) for n in first.leads)
        if config.window is not None:
            length = round(config.window * fs)
        else:
            length = resample(first.signal[:1], first.fs, fs).shape[-1]
        return fs, leads, length
    raise InvalidValueError(f"none of the {len(present)} records could be read: {skipped}")


def _process(
    args: tuple[Reader, PreprocessConfig, float, tuple[str, ...], int, list[tuple[int, str]]],
) -> list[tuple[int, Any, Any, tuple[str, ...] | str]]:
    reader, config, fs, leads, length, items = args
    out: list[tuple[int, Any, Any, tuple[str, ...] | str]] = []
    for i, path in items:
        try:
            rec = reader(path)
        except Exception as e:
            out.append((i, None, None, f"unreadable ({type(e).__name__}: {e})"))
            continue
        if config.fs is None and rec.fs != fs:
            raise _ConfigError(
                f"record {path} is sampled at {rec.fs:g} Hz, others at {fs:g} Hz; pass fs= "
                "to resample every record to one rate"
            )
        try:
            x, mask = preprocess_record(rec.signal, rec.fs, rec.leads, config, fs, leads,
                                        length if config.window is not None else None)  # fmt: skip
        except MissingLeadsError as e:
            raise _ConfigError(f"record {path}: {e}") from None
        except ValueError as e:
            out.append((i, None, None, f"corrupt ({e})"))
            continue
        if x.shape[1] != length:  # native length kept (window=None) but it differs
            raise _ConfigError(
                f"record {path} has {rec.signal.shape[1] / rec.fs:g} s, others "
                f"{length / fs:g} s; pass window= (seconds) to crop/pad every record"
            )
        out.append((i, x, mask, rec.comments))
    return out


def _build(
    name: str,
    present: list[SourceRecord],
    reader: Reader,
    config: PreprocessConfig,
    skipped: dict[str, str],
    folder: Path | None,
    key: str,
    n_jobs: int | None,
    progress: bool,
) -> StoredSignals:
    if folder is not None:
        _remove_stale(folder, f".{name}-{key}.")
    fs, leads, length = _resolve(present, reader, config, skipped)
    present = [r for r in present if r.record_id not in skipped]
    n, shape = len(present), (len(present), len(leads), length)
    tmp: str | None = None
    out: np.ndarray
    if folder is not None:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}-{key}.", suffix=".npy.tmp", dir=folder)
        os.close(fd)
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
    else:
        out = np.empty(shape, dtype=np.float32)
    ok = np.zeros(n, dtype=bool)
    missing = np.zeros(shape[:2], dtype=bool)
    comments: list[tuple[str, ...]] = [() for _ in range(n)]
    items = [(i, r.path) for i, r in enumerate(present)]
    tasks = [
        (reader, config, fs, leads, length, items[s : s + _CHUNK]) for s in range(0, n, _CHUNK)
    ]
    jobs = max(1, min(n_jobs or min(os.cpu_count() or 1, 8), len(tasks)))
    bar = tqdm(total=n, desc=f"Preparing {name}", unit="rec", disable=not progress)
    try:
        with contextlib.ExitStack() as stack:
            results: Iterable[list[tuple[int, Any, Any, tuple[str, ...] | str]]]
            if jobs == 1:
                results = map(_process, tasks)
            else:
                results = stack.enter_context(ProcessPoolExecutor(jobs)).map(_process, tasks)
            for chunk in results:
                for i, x, mask, extra in chunk:
                    if x is None:
                        skipped[present[i].record_id] = str(extra)
                    else:
                        out[i], missing[i], comments[i], ok[i] = x, mask, tuple(extra), True
                bar.update(len(chunk))
        if not ok.any():
            raise InvalidValueError(f"{name}: none of the {n} records could be read: {skipped}")
        if not ok.all():
            out = _compact(out, ok, folder, name, key)
        if isinstance(out, np.memmap):
            out.flush()
    except BaseException:
        for f in {tmp, getattr(out, "filename", None)} - {None}:
            with contextlib.suppress(OSError):
                os.unlink(str(f))
        raise
    finally:
        bar.close()
    ids = tuple(r.record_id for r, k in zip(present, ok) if k)
    missing = missing[ok]
    kept_comments = tuple(c for c, k in zip(comments, ok) if k)
    path = None
    if folder is not None:
        path = folder / f"{name}-{key}.npy"
        src = str(getattr(out, "filename", tmp))
        del out
        os.replace(src, path)
        if tmp is not None and src != tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        manifest = {
            "format": _FORMAT, "dataset": name, "key": key, "shape": [len(ids), *shape[1:]],
            "dtype": "float32", "fs": fs, "leads": list(leads), "record_ids": list(ids),
            "lead_missing": {str(r): np.flatnonzero(m).tolist() for r, m in enumerate(missing) if m.any()},
            "comments": [list(c) for c in kept_comments], "config": config.to_dict(),
            "skipped": {k: v for k, v in skipped.items() if not v.startswith("missing ")},
        }  # fmt: skip
        atomic_write_json(path.with_suffix(".json"), manifest)
        signals = np.load(path, mmap_mode="c", allow_pickle=False)
    else:
        signals = out
    return StoredSignals(
        signals=signals, record_ids=ids, fs=fs, leads=leads, lead_missing=missing,
        comments=kept_comments, skipped=skipped, cache_path=path, from_cache=False,
    )  # fmt: skip


def _remove_stale(folder: Path, prefix: str, age_s: float = 86400.0) -> None:
    """Delete temporary files of builds killed more than ``age_s`` seconds ago."""
    now = time.time()
    for f in folder.glob(f"{prefix}*.npy.tmp"):
        with contextlib.suppress(OSError):
            if now - f.stat().st_mtime > age_s:
                f.unlink()


def _compact(
    out: np.ndarray, ok: np.ndarray, folder: Path | None, name: str, key: str
) -> np.ndarray:
    """Only the rows in ``ok`` (a new temporary memmap when cached)."""
    if folder is None:
        return out[ok]
    fd, tmp = tempfile.mkstemp(prefix=f".{name}-{key}.", suffix=".npy.tmp", dir=folder)
    os.close(fd)
    shape = (int(ok.sum()), *out.shape[1:])
    dense = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
    for j, i in enumerate(np.flatnonzero(ok)):
        dense[j] = out[i]
    old = getattr(out, "filename", None)
    del out
    if old is not None:
        with contextlib.suppress(OSError):
            os.unlink(old)
    return dense
