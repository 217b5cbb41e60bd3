"""Gather a per-rank batch from every process of a ``torch.distributed`` run, with gradients.

Contrastive losses need the negatives of the whole global batch. :func:`gather_with_grad`
concatenates the ranks' tensors in rank order (so the gathered batch is the one-process
batch, when each rank holds a contiguous slice of it) and back-propagates into every rank's
own slice. Outside a distributed run it returns its input unchanged.

Gradient convention: the backward pass *sums* the gradients that all ranks computed for a
rank's slice. When every rank evaluates the same loss over the gathered batch (as SimCLR,
MoCo v3 and CLOCS do for their negatives, and Barlow Twins, VICReg and lead-wise Barlow Twins
for their batch statistics), each rank's parameter gradient is ``world_size`` times its
share, and DistributedDataParallel's gradient *averaging* turns that back into exactly the
one-process gradient.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["gather_with_grad", "is_distributed"]


def is_distributed() -> bool:
    """Whether a process group with more than one rank is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        x = x.contiguous()
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x)
        ctx.rank, ctx.n = dist.get_rank(), x.shape[0]
        return torch.cat(parts)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        # Every rank holds a gradient for the whole gathered batch; sum them (all_reduce works
        # on both NCCL and Gloo, unlike reduce_scatter) and keep this rank's slice.
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate ``x`` (batch, ...) from all ranks along dim 0, in rank order.

    Every rank must pass a tensor of the same shape. Gradients flow back to each rank's own
    slice (see the module docstring for the convention). Without an initialised process
    group of several ranks, ``x`` is returned as is.
    """
    if not is_distributed():
        return x
    if not x.requires_grad:
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)
    out: Tensor = _GatherWithGrad.apply(x)
    return out
