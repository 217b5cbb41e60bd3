"""Activation checkpointing of encoder blocks: keep a block's input, recompute the rest in
backward.

A training step normally keeps every intermediate activation (convolution outputs,
normalised and pooled maps, max-pool indices) until backward. With checkpointing a block
keeps only its input; backward runs the block's forward again to get what it needs. Peak
memory drops to the block inputs plus one block's activations, for about one extra forward
pass of compute (Chen et al., "Training deep nets with sublinear memory cost", 2016; PyTorch's
non-reentrant :func:`torch.utils.checkpoint.checkpoint`).

The recomputation sees the same autocast state and random-number state as the first forward
(PyTorch restores both), so gradients are those of the plain step. BatchNorm would update its
running statistics a second time during the recomputation; :func:`checkpointed` freezes them
for that second run, so running statistics and ``num_batches_tracked`` also match the plain
step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

__all__ = ["checkpointed", "frozen_norm_statistics", "wants_checkpoint"]


def wants_checkpoint(enabled: bool, module: nn.Module) -> bool:
    """Whether a block should run checkpointed: checkpointing is ``enabled``, ``module`` is
    in training mode and autograd is recording (never under ``torch.no_grad``, e.g. an EMA
    target's forward or an embedding pass, where nothing is kept for backward anyway)."""
    return enabled and module.training and torch.is_grad_enabled()


@contextlib.contextmanager
def frozen_norm_statistics(module: nn.Module) -> Iterator[None]:
    """Inside the block, BatchNorm layers of ``module`` normalise with the batch statistics
    (in training mode) but leave their running statistics and ``num_batches_tracked`` as
    they were: momentum 0 keeps ``running = (1 - 0) * running + 0 * batch`` unchanged."""
    norms = [
        m
        for m in module.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    ]
    saved = [
        (m.momentum, None if m.num_batches_tracked is None else m.num_batches_tracked.clone())
        for m in norms
    ]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, (momentum, tracked) in zip(norms, saved):
            m.momentum = momentum
            if tracked is not None and m.num_batches_tracked is not None:
                m.num_batches_tracked.copy_(tracked)


def checkpointed(fn: Callable[..., Tensor], module: nn.Module, *args: Any) -> Tensor:
    """``fn(*args)`` under non-reentrant activation checkpointing.

    Args:
        fn: The block's forward (``module`` itself, or one of its methods).
        module: The module whose parameters and BatchNorm layers ``fn`` uses; its running
            statistics are updated by the first forward only.
        *args: Tensors and plain values passed to ``fn``.

    Returns:
        ``fn(*args)``; only ``args`` are kept for backward, which recomputes the rest.
    """
    calls = 0

    def run(*inner: Any) -> Tensor:
        nonlocal calls
        calls += 1
        if calls == 1:
            return fn(*inner)
        with frozen_norm_statistics(module):  # the recomputation in backward
            return fn(*inner)

    out = checkpoint(run, *args, use_reentrant=False)
    assert isinstance(out, Tensor)
    return out
