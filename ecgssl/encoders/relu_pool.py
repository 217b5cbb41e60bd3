"""ReLU followed by max-pooling by 2 over time, fused to keep little for backward.

``F.max_pool1d(F.relu(y), 2)`` keeps three tensors for backward: the ReLU's output (the size
of ``y``), the pool's int64 argmax indices (the size of ``y`` again, in bytes) and the pooled
output (kept by the next convolution anyway). :func:`relu_max_pool2` computes the same values,
``max(y[2i], y[2i+1], 0)``, and keeps only a one-byte mask of which of the two inputs won
(an eighth of the pooled output's bytes) and the pooled output: a multi-branch block keeps
1.6 instead of 3.5 input-sized tensors. The multi-branch blocks use it in their low-memory
mode (:attr:`ecgssl.encoders.LeadConvBlock.low_memory`, on with activation checkpointing); it
measured 10-15 % slower than ``relu`` + ``max_pool2d`` on CPU, so it is not the default.

Gradients equal the unfused ones: a tie goes to the earlier sample, as in ``max_pool``, and
a gradient reaches an input only where the pooled output is positive, as through the ReLU.
An odd last sample is dropped (floor), as by ``max_pool``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx

__all__ = ["relu_max_pool2"]


class _ReluMaxPool2(torch.autograd.Function):
    @staticmethod
    def forward(ctx: FunctionCtx, y: Tensor) -> Tensor:
        t = y.shape[-1] // 2 * 2
        even, odd = y[..., 0:t:2], y[..., 1:t:2]
        first = even >= odd  # ties to the earlier sample, as max_pool
        out = torch.where(first, even, odd).clamp_(min=0)
        ctx.save_for_backward(first, out)
        ctx.shape, ctx.stride = y.shape, y.stride()  # type: ignore[attr-defined]
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        first, out = ctx.saved_tensors
        positive = out > 0
        dy = torch.empty_strided(ctx.shape, ctx.stride, dtype=grad.dtype, device=grad.device)
        t = ctx.shape[-1] // 2 * 2
        if t < ctx.shape[-1]:
            dy[..., t:] = 0.0  # the odd last sample, dropped by the pooling
        zero = grad.new_zeros(())
        # Written straight into dy's even and odd samples: no gradient-sized temporaries.
        torch.where(first & positive, grad, zero, out=dy[..., 0:t:2])
        torch.where(positive & ~first, grad, zero, out=dy[..., 1:t:2])
        return dy


def relu_max_pool2(y: Tensor) -> Tensor:
    """``max_pool(relu(y), 2)`` over the last dimension, keeping only a mask for backward.

    Args:
        y: Any tensor with time last, e.g. (batch, channels, time) or channels-last
            (batch, channels, 1, time); the gradient has ``y``'s strides.

    Returns:
        ``y`` with its last dimension halved (floor).
    """
    if not torch.is_grad_enabled() or not y.requires_grad:
        t = y.shape[-1] // 2 * 2
        return torch.maximum(y[..., 0:t:2], y[..., 1:t:2]).clamp_(min=0)
    out = _ReluMaxPool2.apply(y)
    assert isinstance(out, Tensor)
    return out
