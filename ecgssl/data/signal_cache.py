"""A signal cache on disk, read row by row: the format streamed pretraining reads.

A cache is a folder holding ``signals.npy`` (records, leads, time), C order, in float32,
float16 or int16, and ``manifest.json`` (sampling rate, lead names, storage dtype and scale,
rows skipped by the build, free-form ``info``). The manifest is written last and atomically
(:mod:`ecgssl.data.cache_build`), so a folder without one is an unfinished build and is
refused. The ``.npy`` + ``.json`` pair that :mod:`ecgssl.data.store` writes for the built-in
loaders opens the same way (pass the ``.npy`` path).

Reads never map the whole file into the process: :meth:`SignalCache.read` fetches the rows
asked for with positioned reads (``os.preadv``, sorted by row so that the disk sees ascending
offsets; one read per run of consecutive rows) into a fresh float32 array, so the process
holds only the batch it reads, whatever the size of the cache (the operating system's page
cache, which is not the process's memory, keeps what it likes). Where ``os.preadv`` is
unavailable (Windows) a read-only memory map is used instead.

Storage dtypes and the error they add (values in the cache's unit, e.g. mV or z-scores):

* ``float32``: exact.
* ``float16``: relative rounding error at most 2**-11 (4.9e-4) of the value for magnitudes in
  [6.1e-5, 65504]; below 6.1e-5 an absolute error of at most 3e-8; larger magnitudes are
  refused at build time.
* ``int16`` with ``scale`` s (units per step): value = stored * s, absolute error at most s/2
  (RMS s/sqrt(12)) inside +-32767 s; values outside are clipped and counted in the
  manifest (``clipped``). ``scale=1e-3`` suits mV (1 uV steps, +-32.8 mV) and z-scores.

Measured on 100 synthetic 12-lead records of ``benchmarks/streaming.py`` z-scored per lead
(peak |value| 4.1): float16 RMS error 2.0e-4 (max 1.9e-3); int16 at scale 1e-3 RMS 2.9e-4
(max 5.0e-4); int16 at 1e-2 RMS 2.9e-3 (max 5.0e-3); nothing clipped.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ecgssl.errors import DataNotFoundError, InvalidValueError

__all__ = [
    "CACHE_FORMAT",
    "STORAGE_DTYPES",
    "SignalCache",
    "decode",
    "encode",
    "open_signal_cache",
]

CACHE_FORMAT = "ecgssl-signal-cache/1"
#: Storage dtypes a cache may use.
STORAGE_DTYPES = ("float32", "float16", "int16")
SIGNALS, MANIFEST, PROGRESS = "signals.npy", "manifest.json", "progress.json"
_F16_MAX = 65504.0


def check_storage(dtype: str, scale: float | None) -> tuple[str, float | None]:
    """Validate a storage dtype and its scale (``int16`` needs one, the floats take none)."""
    if dtype not in STORAGE_DTYPES:
        raise InvalidValueError(f"dtype must be one of {STORAGE_DTYPES}, got {dtype!r}")
    if dtype == "int16":
        if scale is None:
            scale = 1e-3
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
            raise InvalidValueError(f"scale must be a positive number (units per int16 step), got {scale!r}")  # fmt: skip
        return dtype, float(scale)
    if scale is not None:
        raise InvalidValueError(f"scale applies to dtype='int16' only, got scale={scale!r} with {dtype!r}")  # fmt: skip
    return dtype, None


def encode(x: np.ndarray, dtype: str, scale: float | None) -> tuple[np.ndarray, int]:
    """``x`` in the storage dtype, and the number of samples clipped (int16 only).

    Raises:
        ValueError: NaN/Inf values, or float16 storage of a magnitude above 65504.
    """
    x = np.asarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise InvalidValueError("signals hold NaN or Inf values: a cache stores finite values only")
    if dtype == "float32":
        return np.ascontiguousarray(x), 0
    if dtype == "float16":
        peak = float(np.abs(x).max(initial=0.0))
        if peak > _F16_MAX:
            raise InvalidValueError(
                f"a value of magnitude {peak:g} does not fit float16 (max 65504); use "
                "dtype='float32' or 'int16' with a scale"
            )
        return x.astype(np.float16), 0
    assert scale is not None
    q = np.rint(x / np.float32(scale))
    clipped = int(np.count_nonzero(np.abs(q) > 32767))
    return np.clip(q, -32767, 32767).astype(np.int16), clipped


def decode(stored: np.ndarray, scale: float | None) -> np.ndarray:
    """Stored values as float32 (int16 times ``scale``)."""
    if stored.dtype == np.int16:
        assert scale is not None
        return stored.astype(np.float32) * np.float32(scale)
    return stored.astype(np.float32, copy=False)


def _data_offset(path: Path) -> tuple[int, tuple[int, ...], np.dtype[Any]]:
    """Byte offset of the data, shape and dtype of a C-order ``.npy`` file."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        if fortran:
            raise InvalidValueError(f"{path} is stored in Fortran order; a cache needs C order")
        return f.tell(), tuple(shape), dtype


class SignalCache:
    """A finished cache, opened for row reads (see the module docstring).

    Attributes:
        path: The ``signals.npy`` file.
        shape: (records, leads, time) as stored (skipped rows included).
        fs: Sampling rate in Hz.
        leads: Lead names.
        dtype: Storage dtype name.
        scale: int16 step in signal units, or ``None``.
        skipped_rows: Rows the build left zero-filled (unreadable records), sorted.
        info: Free-form metadata of the build (source, preprocessing...).
        manifest: The whole manifest.
    """

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest
        self._offset, shape, dtype = _data_offset(path)
        if list(shape) != list(manifest["shape"]) or len(shape) != 3:
            raise InvalidValueError(f"cache {path}: shape {shape} != manifest {manifest['shape']}")
        self.shape: tuple[int, int, int] = (int(shape[0]), int(shape[1]), int(shape[2]))
        self.dtype = str(dtype)
        if self.dtype not in STORAGE_DTYPES:
            raise InvalidValueError(f"cache {path}: unsupported storage dtype {self.dtype}")
        self.scale: float | None = manifest.get("scale")
        self.fs = float(manifest["fs"])
        self.leads = tuple(str(n) for n in manifest["leads"])
        if len(self.leads) != self.shape[1]:
            raise InvalidValueError(f"cache {path}: {len(self.leads)} lead names for {self.shape[1]} leads")  # fmt: skip
        self.skipped_rows = np.asarray(manifest.get("skipped_rows", []), dtype=np.int64)
        self.info: dict[str, Any] = dict(manifest.get("info", {}))
        self._row_bytes = self.shape[1] * self.shape[2] * np.dtype(self.dtype).itemsize
        expected = self._offset + self.shape[0] * self._row_bytes
        if path.stat().st_size < expected:
            raise InvalidValueError(
                f"cache {path} is truncated: {path.stat().st_size} bytes, {expected} expected"
            )
        self._fd: int | None = None
        self._map: np.ndarray | None = None

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def n_leads(self) -> int:
        return self.shape[1]

    @property
    def length(self) -> int:
        """Time samples per record."""
        return self.shape[2]

    @property
    def nbytes(self) -> int:
        """Size of the stored signals in bytes."""
        return self.shape[0] * self._row_bytes

    def valid_rows(self) -> np.ndarray:
        """Rows holding a record (all rows but the skipped ones), int64."""
        keep = np.ones(self.shape[0], dtype=bool)
        keep[self.skipped_rows] = False
        return np.flatnonzero(keep)

    def read(self, rows: np.ndarray) -> np.ndarray:
        """The records at ``rows`` (any order, repeats allowed) as float32 (n, leads, time).

        Raises:
            IndexError: a row outside ``0 .. len(self) - 1``.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= self.shape[0]):
            raise IndexError(f"rows must lie in 0..{self.shape[0] - 1}, got {rows.min()}..{rows.max()}")  # fmt: skip
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        stored = np.empty((rows.size, *self.shape[1:]), dtype=self.dtype)
        if hasattr(os, "preadv"):
            self._pread(sorted_rows, stored)
        else:  # pragma: no cover - Windows
            if self._map is None:
                self._map = np.load(self.path, mmap_mode="r", allow_pickle=False)
            stored[:] = self._map[sorted_rows]
        out = np.empty_like(stored, dtype=np.float32)
        out[order] = decode(stored, self.scale)
        return out

    def _pread(self, sorted_rows: np.ndarray, stored: np.ndarray) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        flat = stored.reshape(len(sorted_rows), -1).view(np.uint8)
        i, n = 0, len(sorted_rows)
        while i < n:  # one read per run of consecutive rows
            if i > 0 and sorted_rows[i] == sorted_rows[i - 1]:  # a repeated row: copy it
                flat[i] = flat[i - 1]
                i += 1
                continue
            j = i + 1
            while j < n and sorted_rows[j] == sorted_rows[j - 1] + 1:
                j += 1
            view = memoryview(flat[i:j])  # type: ignore[arg-type]
            offset, want = self._offset + int(sorted_rows[i]) * self._row_bytes, view.nbytes
            done = 0
            while done < want:
                got = os.preadv(self._fd, [view[done:]], offset + done)
                if got <= 0:
                    raise InvalidValueError(f"cache {self.path}: short read at byte {offset + done}")  # fmt: skip
                done += got
            i = j

    def close(self) -> None:
        """Release the file handle (reads reopen it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._map = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def __getstate__(self) -> dict[str, Any]:  # a fresh handle in another process
        return {**self.__dict__, "_fd": None, "_map": None}

    def __repr__(self) -> str:
        n, lead, t = self.shape
        return (f"SignalCache({str(self.path)!r}, {n} records x {lead} leads x {t} samples at "
                f"{self.fs:g} Hz, {self.dtype})")  # fmt: skip


def open_signal_cache(path: str | Path) -> SignalCache:
    """Open a finished cache: a cache folder, its ``signals.npy``, or a ``.npy`` of
    :mod:`ecgssl.data.store` (with its ``.json`` manifest beside it).

    Raises:
        FileNotFoundError: no cache there.
        ValueError: the build did not finish (no manifest, a progress marker only), or the
            files disagree with the manifest.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        npy, manifest_path = p / SIGNALS, p / MANIFEST
    elif p.suffix == ".npy" and p.name == SIGNALS:
        npy, manifest_path = p, p.with_name(MANIFEST)
    else:
        npy, manifest_path = p.with_suffix(".npy"), p.with_suffix(".json")
    if not manifest_path.exists():
        if (npy.parent / PROGRESS).exists():
            raise InvalidValueError(
                f"cache {npy.parent} is an unfinished build (progress.json but no manifest); "
                "run the build again to resume it"
            )
        raise DataNotFoundError(f"no signal cache at {p} (no {manifest_path.name})")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as e:
        raise InvalidValueError(f"cache manifest {manifest_path} is unreadable: {e}") from e
    for key in ("shape", "fs", "leads"):
        if key not in manifest:
            raise InvalidValueError(f"cache manifest {manifest_path} lacks {key!r}")
    if not npy.exists():
        raise DataNotFoundError(f"cache {p}: {npy.name} is missing")
    return SignalCache(npy, manifest)
