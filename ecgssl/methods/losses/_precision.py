"""Run losses in float32 even inside a mixed-precision (autocast) training step."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import torch
from torch import Tensor

__all__ = ["float32_loss"]

P = ParamSpec("P")
R = TypeVar("R")

_HALF = (torch.float16, torch.bfloat16)


def _upcast(x: Any) -> Any:
    return x.float() if isinstance(x, Tensor) and x.dtype in _HALF else x


def float32_loss(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a loss so it runs with autocast off and half-precision inputs upcast.

    Cross-correlations, covariances and softmaxes over a batch lose too much in bfloat16
    (e.g. ``1 - C_ii`` near convergence in Barlow Twins); the encoder and heads still run in
    mixed precision, only the loss is computed in float32. Gradients flow through the upcast.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        first = next((a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)), None)
        device_type = first.device.type if first is not None else "cpu"
        guard: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if torch.amp.is_autocast_available(device_type):
            guard = torch.autocast(device_type, enabled=False)
        with guard:
            up_args = [_upcast(a) for a in args]
            up_kwargs = {k: _upcast(v) for k, v in kwargs.items()}
            return fn(*up_args, **up_kwargs)

    return wrapper
