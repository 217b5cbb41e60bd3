"""Mixed precision (autocast) for training, fine-tuning and embedding: on CUDA and CPU.

``amp="auto"`` turns autocast on where it pays off. On CUDA that is always (bfloat16 where
the GPU supports it, else float16 with a gradient scaler). On a CPU it is bfloat16 only where
:func:`cpu_bf16_status` says so: the CPU reports bfloat16 matrix units (AVX-512 BF16 or AMX)
**and** a short bfloat16 matmul, timed once per process, is at least as fast as float32.
Without those units PyTorch emulates bfloat16 and autocast is many times *slower* (measured
on an AMD EPYC without AVX-512: a bf16 matmul at 0.5 GFLOP/s against 64 GFLOP/s in fp32, the
multi-branch encoder's forward + backward 8-9x slower), so it is never assumed.

Only the forward passes run under autocast; parameters, gradients, optimiser state, EMA
targets and the losses (:func:`ecgssl.methods.losses._precision.float32_loss`) stay float32.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import platform
import time
import warnings
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from ecgssl.errors import InvalidValueError

__all__ = ["AmpPlan", "CpuBf16Status", "check_amp", "cpu_bf16_status", "resolve_amp"]

_log = logging.getLogger(__name__)
_logged: set[str] = set()

AmpSetting = bool | str


class CpuBf16Status(NamedTuple):
    """Whether bfloat16 autocast pays off on this CPU, and why (unpacks as ``(fast, reason)``)."""

    fast: bool
    reason: str


def _cpu_bf16_units() -> tuple[list[str], str]:
    """The bfloat16 matrix units this CPU reports, and the CPU capability PyTorch uses."""
    capability = str(torch.backends.cpu.get_cpu_capability())
    checks = {"AVX-512 BF16": "_is_avx512_bf16_supported", "AMX": "_is_amx_tile_supported"}
    units = []
    for label, name in checks.items():
        probe = getattr(torch.cpu, name, None)  # private, and absent in older PyTorch
        try:
            if probe is not None and probe():
                units.append(label)
        except RuntimeError:
            pass
    return units, capability


def _matmul_gflops(dtype: torch.dtype, n: int = 256, budget_s: float = 0.05) -> float:
    """Best GFLOP/s of an n x n matmul in ``dtype`` over a few calls (at most ~``budget_s``
    after one warm-up call, so an emulated bfloat16 costs tens of milliseconds, not seconds)."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(dtype)
    b = torch.randn(n, n, generator=gen).to(dtype)
    a @ b
    best, start = float("inf"), time.perf_counter()
    for _ in range(5):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s:
            break
    return 2 * n**3 / max(best, 1e-12) / 1e9


@functools.cache
def cpu_bf16_status() -> CpuBf16Status:
    """Decide, once per process, whether bfloat16 autocast is worth it on this CPU.

    It is when the CPU reports AVX-512 BF16 or AMX (on x86; elsewhere PyTorch cannot tell,
    and the timing alone decides) and a bfloat16 256 x 256 matmul is at least as fast as the
    float32 one, timed here at the current thread count (tens of milliseconds at most).

    Returns:
        ``(fast, reason)``; ``reason`` is one line with the units and both measured speeds,
        e.g. ``"no AVX-512 BF16/AMX units (CPU capability AVX2); bf16 matmul 0.5 vs 64
        GFLOP/s fp32"``.
    """
    units, capability = _cpu_bf16_units()
    fp32 = _matmul_gflops(torch.float32)
    bf16 = _matmul_gflops(torch.bfloat16)
    speeds = f"bf16 matmul {bf16:.3g} vs {fp32:.3g} GFLOP/s fp32"
    x86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")
    if x86 and not units:
        why = f"no AVX-512 BF16/AMX units (CPU capability {capability}); {speeds}"
        return CpuBf16Status(False, why)
    have = f"{'/'.join(units)} units" if units else f"{platform.machine()} CPU"
    if bf16 < fp32:
        return CpuBf16Status(False, f"{have} but bf16 is slower than fp32 here; {speeds}")
    return CpuBf16Status(True, f"{have}; {speeds}")


def check_amp(amp: Any, name: str = "amp") -> AmpSetting:
    """Validate an ``amp`` setting: ``True``, ``False`` or ``"auto"``.

    Raises:
        ValueError: anything else (the message names ``name``).
    """
    if amp is True or amp is False or amp == "auto":
        return amp
    raise InvalidValueError(f"{name} must be True, False or 'auto', got {amp!r}")


@dataclass(frozen=True)
class AmpPlan:
    """What an ``amp`` setting means on one device.

    Attributes:
        device_type: ``"cuda"`` or ``"cpu"`` (the autocast device type).
        dtype: The autocast dtype, or ``None`` when autocast is off.
        reason: Why (one line, also logged).
    """

    device_type: str
    dtype: torch.dtype | None
    reason: str

    @property
    def enabled(self) -> bool:
        return self.dtype is not None

    @property
    def needs_grad_scaler(self) -> bool:
        """float16 on CUDA needs a gradient scaler; bfloat16 has float32's exponent range."""
        return self.dtype == torch.float16

    @property
    def label(self) -> str:
        """The forward passes' precision as results and checkpoints record it: ``"bf16"``,
        ``"fp16"`` (autocast) or ``"fp32"`` (off)."""
        if self.dtype is None:
            return "fp32"
        return "bf16" if self.dtype == torch.bfloat16 else "fp16"

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """``torch.autocast`` for the forward passes, or a no-op when off."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)


def resolve_amp(amp: AmpSetting, device: torch.device, log: bool = True) -> AmpPlan:
    """Turn ``amp`` (``True``/``False``/``"auto"``) into an :class:`AmpPlan` for ``device``.

    CUDA: ``"auto"`` and ``True`` use bfloat16 where supported, else float16. CPU: ``"auto"``
    uses bfloat16 when :func:`cpu_bf16_status` says it is fast, ``True`` forces bfloat16 (and
    warns when it is slow), ``False`` is off. Other devices: off. With ``log``, one line on
    the ``ecgssl.precision`` logger says what was chosen and why (``INFO`` the first time in
    a process, ``DEBUG`` when repeated).
    """
    check_amp(amp)
    kind = device.type
    if amp is False:
        plan = AmpPlan(kind, None, "amp=False")
    elif kind == "cuda":
        bf16 = torch.cuda.is_bf16_supported()
        plan = AmpPlan(kind, torch.bfloat16 if bf16 else torch.float16, f"amp={amp!r} on CUDA")
    elif kind == "cpu":
        fast, why = cpu_bf16_status()
        if amp is True and not fast:
            warnings.warn(
                f"amp=True forces bfloat16 autocast on a CPU where it is slow ({why}); "
                "amp='auto' would leave it off", RuntimeWarning, stacklevel=3,
            )  # fmt: skip
        on = fast or amp is True
        plan = AmpPlan(kind, torch.bfloat16 if on else None, f"amp={amp!r}: {why}")
    else:
        plan = AmpPlan(kind, None, f"no autocast on {kind} devices")
    if log:
        dtype = "fp16" if plan.dtype == torch.float16 else "bf16"
        state = "on" if plan.enabled else "off"
        line = f"{dtype} autocast on {kind.upper()}: {state} ({plan.reason})"
        # Once per process at INFO (embedding in an online monitor resolves it every epoch).
        _log.log(logging.DEBUG if line in _logged else logging.INFO, line)
        _logged.add(line)
    return plan
