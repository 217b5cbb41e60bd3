"""Atomic, self-describing checkpoint files that load without executing code.

A checkpoint is a plain dictionary of tensors and JSON-like values written with
``torch.save`` to a temporary file in the target folder, flushed and fsynced, then renamed
over the final name (``os.replace`` is atomic on POSIX and Windows), so a crash never
leaves a half-written file under a checkpoint's name. Loading uses
``torch.load(..., weights_only=True)``: a checkpoint cannot run code.

Files are named ``ckpt-epochEEEE-stepSSSSSSSS.pt``: ``EEEE`` epochs were completed and
``SSSSSSSS`` optimisation steps taken when it was written (a mid-epoch checkpoint has a
step count past the last completed epoch). Checkpoints sort by step.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from ecgssl.errors import DataNotFoundError, InvalidValueError
from ecgssl.validation import plain_value

__all__ = [
    "CHECKPOINT_FORMAT",
    "atomic_torch_save",
    "checkpoint_name",
    "find_checkpoints",
    "latest_valid_checkpoint",
    "load_checkpoint",
    "plain_data",
    "prune_checkpoints",
    "remove_stale_temp_files",
    "safe_torch_load",
    "validate_checkpoint",
]

#: Version of the checkpoint layout; loading refuses any other.
CHECKPOINT_FORMAT = 2
_NAME = re.compile(r"^ckpt-epoch(\d+)-step(\d+)\.pt$")
_TEMP_PREFIX = ".ckpt-"
_TEMP_SUFFIX = ".tmp"


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to ``path`` atomically (temporary file + fsync + rename).

    A crash at any moment leaves either the previous file (or none) or the complete new
    one under ``path``; at worst a hidden ``.<name>.*.tmp`` file remains beside it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TEMP_SUFFIX, dir=path.parent)
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


def safe_torch_load(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``, with a short ecgssl reason on failure.

    Only tensors and plain data load; a file holding any other Python object is refused
    without running it.

    Raises:
        ValueError: the file is damaged, not a torch file, or holds pickled objects. The
            message says which (never torch's advice to load with ``weights_only=False``).
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="Detected pickle protocol", category=UserWarning
            )
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        what = f"a pickled {found.group(1)}" if found else "pickled Python objects or damaged bytes"
        reason = f"it holds {what}, and ecgssl loads only tensors and plain data (no pickled code)"
    except Exception as e:  # truncated zip, not a torch file, ...
        reason = next((line for line in str(e).splitlines() if line.strip()), type(e).__name__)
    raise InvalidValueError(reason[:300])


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) and check its format.

    Args:
        path: The checkpoint file.
        map_location: Where tensors are loaded (default CPU).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a readable ecgssl checkpoint (truncated, corrupt, holding
            arbitrary Python objects, or of another format version).
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"no checkpoint at {path}")
    try:
        ckpt = safe_torch_load(path, map_location=map_location)
    except ValueError as e:  # truncated zip, pickle refused, ...
        raise InvalidValueError(f"checkpoint {path} is corrupt or unreadable: {e}") from None
    return validate_checkpoint(ckpt, path)


def validate_checkpoint(ckpt: Any, path: str | Path = "checkpoint") -> dict[str, Any]:
    """Return ``ckpt`` (a loaded object) if it is an ecgssl checkpoint of this format.

    Raises:
        ValueError: another format version, or an incomplete or foreign object.
    """
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        got = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise InvalidValueError(
            f"{path} is not an ecgssl checkpoint of format {CHECKPOINT_FORMAT} (got {got!r})"
        )
    missing = {"method", "encoder", "signal", "epoch", "step", "method_state"} - set(ckpt)
    if missing:
        raise InvalidValueError(f"checkpoint {path} is incomplete: missing {sorted(missing)}")
    return ckpt


def plain_data(obj: Any, name: str = "value") -> Any:
    """A copy of ``obj`` made only of types ``torch.load(weights_only=True)`` accepts.

    Dicts (string keys), lists, tuples, str, int, float, bool, None and tensors pass; numpy
    scalars and arrays become Python values and lists; paths become strings.

    Raises:
        TypeError: anything else (the message names where it sits), so that a run fails at
            its start rather than writing checkpoints that cannot be loaded safely.
    """
    return plain_value(obj, name, tensors=True, tuples=True, store="a checkpoint")


def checkpoint_name(epoch: int, step: int) -> str:
    """File name of the checkpoint written after ``epoch`` completed epochs and ``step`` steps."""
    return f"ckpt-epoch{epoch:04d}-step{step:08d}.pt"


def find_checkpoints(directory: str | Path) -> list[Path]:
    """Checkpoints ``ckpt-epochEEEE-stepSSSSSSSS.pt`` in ``directory``, oldest step first."""
    d = Path(directory)
    if not d.is_dir():
        return []
    found = [
        ((int(m.group(2)), int(m.group(1))), p) for p in d.iterdir() if (m := _NAME.match(p.name))
    ]
    return [p for _, p in sorted(found)]


def latest_valid_checkpoint(directory: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint in ``directory`` that loads; corrupt ones are skipped with a warning.

    Returns:
        ``(path, checkpoint)``, or ``None`` when no checkpoint loads.
    """
    for path in reversed(find_checkpoints(directory)):
        try:
            return path, load_checkpoint(path)
        except ValueError as e:
            warnings.warn(
                f"skipping unreadable checkpoint: {e}; trying an older one",
                RuntimeWarning,
                stacklevel=2,
            )
    return None


def prune_checkpoints(directory: str | Path, keep_last: int) -> list[Path]:
    """Delete all but the ``keep_last`` newest checkpoints in ``directory``; return the deleted."""
    if keep_last < 1:
        raise InvalidValueError(f"keep_last must be >= 1, got {keep_last}")
    doomed = find_checkpoints(directory)[:-keep_last]
    for path in doomed:
        with contextlib.suppress(OSError):
            path.unlink()
    return doomed


def remove_stale_temp_files(directory: str | Path) -> list[Path]:
    """Delete temporary files left in ``directory`` by checkpoint saves that were interrupted.

    Only call this while no other process writes checkpoints to ``directory``.
    """
    d = Path(directory)
    if not d.is_dir():
        return []
    stale = [
        p for p in d.iterdir() if p.name.startswith(_TEMP_PREFIX) and p.name.endswith(_TEMP_SUFFIX)
    ]
    for p in stale:
        with contextlib.suppress(OSError):
            p.unlink()
    return stale
