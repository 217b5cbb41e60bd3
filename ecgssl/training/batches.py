"""Mini-batch sources for the training loop, resumable at any step of an epoch.

:class:`TensorBatches` shuffles an in-memory (records, leads, time) tensor with its own
``torch.Generator``. The generator state at the start of an epoch, plus the number of
batches already consumed, pins down the rest of the epoch exactly, which is what a mid-epoch
checkpoint stores.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

import torch
from torch import Tensor

__all__ = ["LoaderBatches", "TensorBatches"]


class TensorBatches:
    """Shuffled mini-batches of an in-memory (records, leads, time) tensor.

    Args:
        signals: (records, leads, time) tensor.
        batch_size: Records per batch.
        drop_last: Drop the last incomplete batch.
        seed: Seed of the shuffling generator.
    """

    resumable = True

    def __init__(self, signals: Tensor, batch_size: int, drop_last: bool, seed: int) -> None:
        self.signals = signals
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = self.signals.shape[0]
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def get_state(self) -> Tensor:
        """The shuffling generator's state (take it at the start of an epoch)."""
        return self.generator.get_state()

    def set_state(self, state: Tensor) -> None:
        """Restore the shuffling generator's state."""
        self.generator.set_state(state)

    def epoch(self, state: Tensor | None = None, skip: int = 0) -> Iterator[Tensor]:
        """Batches of one epoch.

        Args:
            state: Generator state to start the epoch from (``None``: the current state).
            skip: Number of leading batches to leave out (already trained on).
        """
        if state is not None:
            self.generator.set_state(state)
        perm = torch.randperm(self.signals.shape[0], generator=self.generator)
        for k in range(skip, len(self)):
            yield self.signals[perm[k * self.batch_size : (k + 1) * self.batch_size]]


class LoaderBatches:
    """Adapt an iterable of tensors or ``(tensor, ...)`` tuples (e.g. a DataLoader).

    The loader's own shuffling is outside ecgssl's control, so a mid-epoch resume skips the
    batches already trained on by count and warns that the order may differ.
    """

    resumable = False

    def __init__(self, loader: Iterable[Any]) -> None:
        self.loader = loader

    def __len__(self) -> int:
        try:
            return len(self.loader)  # type: ignore[arg-type]
        except TypeError as e:
            raise TypeError(
                f"the training data ({type(self.loader).__name__}) must have a length "
                "(batches per epoch) for the learning-rate schedule"
            ) from e

    def get_state(self) -> None:
        """The loader's order is not ecgssl's to record: ``None``."""
        return None

    def set_state(self, state: Tensor | None) -> None:
        """No-op (see :meth:`get_state`)."""

    def epoch(self, state: Tensor | None = None, skip: int = 0) -> Iterator[Tensor]:
        """Batches of one epoch, leaving out the first ``skip``."""
        if skip:
            warnings.warn(
                f"resuming mid-epoch on a {type(self.loader).__name__}: skipping {skip} batches; "
                "the remaining batches match the interrupted run only if the loader is "
                "deterministic",
                RuntimeWarning,
                stacklevel=2,
            )
        for batch in islice(self.loader, skip, None):
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            if not isinstance(x, Tensor):
                raise TypeError(f"batches must be tensors, got {type(x).__name__}")
            yield x
