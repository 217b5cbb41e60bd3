"""Atomic, self-describing checkpoints that load without executing code.

A checkpoint is a plain dictionary of tensors and JSON-like values written with
``torch.save`` to a temporary file in the target folder, flushed and fsynced, then renamed
over the final name (``os.replace`` is atomic on POSIX and Windows), so a crash never
leaves a half-written file under a checkpoint's name. Loading uses
``torch.load(..., weights_only=True)``: a checkpoint cannot run code.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "CHECKPOINT_FORMAT",
    "atomic_torch_save",
    "find_checkpoints",
    "latest_valid_checkpoint",
    "load_checkpoint",
    "prune_checkpoints",
]

CHECKPOINT_FORMAT = 1
_NAME = re.compile(r"^ckpt-epoch(\d+)\.pt$")


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to ``path`` atomically (temporary file + fsync + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # persist the rename itself (POSIX only)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) and check its format.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a readable ecgssl checkpoint (truncated, corrupt, foreign).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated zip, pickle refused, ...
        raise ValueError(f"checkpoint {path} is corrupt or unreadable: {e}") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} is not an ecgssl checkpoint (format {CHECKPOINT_FORMAT} expected, "
            f"got {ckpt.get('format') if isinstance(ckpt, dict) else type(ckpt).__name__})"
        )
    return ckpt


def find_checkpoints(directory: str | Path) -> list[Path]:
    """Checkpoints ``ckpt-epochNNNN.pt`` in ``directory``, oldest epoch first."""
    d = Path(directory)
    if not d.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_valid_checkpoint(directory: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint in ``directory`` that loads; corrupt ones are skipped with a warning."""
    for path in reversed(find_checkpoints(directory)):
        try:
            return path, load_checkpoint(path)
        except ValueError as e:
            warnings.warn(f"skipping unreadable checkpoint: {e}", RuntimeWarning, stacklevel=2)
    return None


def prune_checkpoints(directory: str | Path, keep_last: int) -> None:
    """Delete all but the ``keep_last`` newest checkpoints in ``directory``."""
    for path in find_checkpoints(directory)[:-keep_last]:
        with contextlib.suppress(OSError):
            path.unlink()


def checkpoint_name(epoch: int) -> str:
    """File name of the checkpoint written after ``epoch`` (1-based)."""
    return f"ckpt-epoch{epoch:04d}.pt"
