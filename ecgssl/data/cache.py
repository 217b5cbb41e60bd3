"""The user cache folder and atomic file writes (never a half-written cache)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from ecgssl.errors import InvalidValueError

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_npz",
    "cache_dir",
    "config_hash",
    "load_npz",
]


def cache_dir() -> Path:
    """ecgssl's cache folder: ``$ECGSSL_CACHE_DIR``, else ``$XDG_CACHE_HOME/ecgssl``, else
    ``~/.cache/ecgssl``. Created on first use."""
    env = os.environ.get("ECGSSL_CACHE_DIR")
    if env:
        path = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "ecgssl"
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_hash(config: Mapping[str, Any], length: int = 16) -> str:
    """Stable short hash of a JSON-serialisable configuration."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Write ``path`` atomically: ``write`` fills a temporary file in the same folder, which is
    flushed, fsynced and renamed over ``path``. On any error the temporary file is removed and
    ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda f: f.write(data))  # type: ignore[arg-type]


def atomic_write_npz(path: str | Path, **arrays: np.ndarray) -> Path:
    """Save arrays as an uncompressed ``.npz`` atomically."""
    return atomic_write(path, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Save ``obj`` as JSON atomically."""
    return atomic_write_bytes(path, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` file into memory.

    Raises:
        ValueError: the file is corrupt or truncated (the message names it).
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise
    except Exception as e:
        raise InvalidValueError(f"cache file {path} is corrupt or unreadable: {e}") from e
