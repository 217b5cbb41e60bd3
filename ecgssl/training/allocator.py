"""Keep freed memory inside the process on glibc, so CPU training does not page-fault.

PyTorch's CPU tensors come from ``malloc``. glibc serves blocks above a (dynamic, at most
32 MiB) threshold with ``mmap`` and returns freed memory to the kernel, so every training step
maps its large activations afresh and touches each new page once: a page fault per 4 KiB. At
batch 256 of 12 x 250 samples that is most of the step. ``benchmarks/speed.py`` measured the
default multi-branch BELL step on 2 cores at 157 -> 450 samples/s (batch 256) and
236 -> 427 (batch 64) with the settings below, for about 20 % more peak resident memory.

The settings are process-wide and stay for the life of the process; they only change where
freed memory waits (inside the process instead of the kernel), never a result. Other
allocators (jemalloc or tcmalloc via ``LD_PRELOAD``) and other C libraries are left alone.

Nothing is changed when ecgssl is imported: the ``Pretrainer`` applies the settings when it
trains on CPU (``PretrainConfig.tune_cpu_malloc``, default on), and ``ecgssl.embed`` and
fine-tuning when they run on CPU. The first time it happens, a message at ``INFO`` level on the
``ecgssl.training.allocator`` logger says so. Set the environment variable
``ECGSSL_TUNE_MALLOC=0`` to leave malloc alone everywhere, or pass ``tune_cpu_malloc=False``
to a ``Pretrainer``.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform

__all__ = ["ENV_VAR", "tune_cpu_allocator"]

#: Environment variable that disables the tuning process-wide when set to 0/false/no/off.
ENV_VAR = "ECGSSL_TUNE_MALLOC"

_log = logging.getLogger(__name__)

# mallopt parameters, from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4

_tuned: bool | None = None


def tune_cpu_allocator() -> bool:
    """Make glibc keep freed memory for reuse (no ``mmap`` per large block, no trimming).

    Idempotent; a no-op returning ``False`` outside Linux/glibc, when ``mallopt`` refuses, or
    when the environment variable ``ECGSSL_TUNE_MALLOC`` is ``0`` (``false``, ``no``, ``off``).
    Logs once, at ``INFO``, what it changed and how to turn it off.

    Returns:
        Whether the settings are in effect.
    """
    global _tuned
    if _tuned is not None:
        return _tuned
    if os.environ.get(ENV_VAR, "").strip().lower() in ("0", "false", "no", "off"):
        return False  # checked on every call: the variable may be set after import
    _tuned = False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = all(
            libc.mallopt(param, value) == 1
            for param, value in (
                (_M_MMAP_MAX, 0),  # large blocks from the heap, not a fresh mmap each time
                (_M_TRIM_THRESHOLD, 1 << 30),  # keep up to 1 GiB of free heap top
                (_M_TOP_PAD, 64 << 20),  # grow the heap in 64 MiB steps
            )
        )
    except (OSError, AttributeError):
        return False
    _tuned = ok
    if ok:
        _log.info(
            "ecgssl tuned glibc malloc for this process (mallopt M_MMAP_MAX=0, "
            "M_TRIM_THRESHOLD=1 GiB, M_TOP_PAD=64 MiB: freed memory is kept for reuse, so CPU "
            "steps do not page-fault; ~20 %% more peak memory, results unchanged). To leave "
            "malloc alone set %s=0, or PretrainConfig(tune_cpu_malloc=False) for training.",
            ENV_VAR,
        )
    return ok
