"""Mini-batch sources for the training loop, resumable at any step of an epoch.

:class:`TensorBatches` shuffles an in-memory (records, leads, time) tensor with its own
``torch.Generator``. The generator state at the start of an epoch, plus the number of
batches already consumed, pins down the rest of the epoch exactly, which is what a mid-epoch
checkpoint stores.

In a distributed run every rank holds the same tensor and the same generator, draws the same
permutation, and keeps its contiguous slice of each global batch (:meth:`TensorBatches.shard`):
the union of the ranks' batches at every step is exactly the one-process batch, and the
permutation changes every epoch like the one-process run's.
:class:`LoaderBatches` leaves sharding to the loader's sampler (e.g. a ``DistributedSampler``)
and calls its ``set_epoch`` at every epoch so that it reshuffles.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

import torch
from torch import Tensor

from ecgssl.errors import InvalidTypeError, InvalidValueError

__all__ = ["Batch", "LoaderBatches", "ShuffledBatches", "TensorBatches"]

#: One training batch: (batch, leads, time) signals and the records' patient codes (or None).
Batch = tuple[Tensor, Tensor | None]


class ShuffledBatches:
    """What the resumable shuffled sources share: batches of a seeded permutation of
    ``n_records`` records, sharded over ranks, with the generator state as the checkpoint.

    Subclasses call ``super().__init__(batch_size, drop_last, seed)``, define
    :attr:`n_records` and yield the batches in ``epoch``.
    """

    resumable = True

    def __init__(self, batch_size: int, drop_last: bool, seed: int) -> None:
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.generator = torch.Generator().manual_seed(seed)
        self.rank, self.world_size = 0, 1

    @property
    def n_records(self) -> int:
        """Records per epoch."""
        raise NotImplementedError

    def shard(self, rank: int, world_size: int) -> None:
        """Yield only this rank's slice of every global batch of ``batch_size`` records.

        Rank r gets records ``[r * b, (r + 1) * b)`` of each global batch, with
        ``b = batch_size / world_size``.

        Raises:
            ValueError: ``batch_size`` (or the last, incomplete batch kept with
                ``drop_last=False``) does not split evenly over ``world_size`` ranks.
        """
        if not 0 <= rank < world_size:
            raise InvalidValueError(f"rank {rank} is outside 0..{world_size - 1}")
        if self.batch_size % world_size:
            raise InvalidValueError(
                f"batch_size={self.batch_size} (the global batch) must be divisible by the "
                f"{world_size} processes of the distributed run"
            )
        tail = 0 if self.drop_last else self.n_records % self.batch_size
        if tail % world_size:
            raise InvalidValueError(
                f"the last batch of each epoch has {tail} records, which do not split evenly "
                f"over {world_size} processes; set drop_last=True"
            )
        self.rank, self.world_size = rank, world_size

    def set_epoch(self, epoch: int) -> None:
        """No-op: the generator reshuffles every epoch on its own."""

    def __len__(self) -> int:
        n = self.n_records
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def get_state(self) -> Tensor:
        """The shuffling generator's state (take it at the start of an epoch)."""
        return self.generator.get_state()

    def set_state(self, state: Tensor) -> None:
        """Restore the shuffling generator's state."""
        self.generator.set_state(state)

    def _indices(self, order: Tensor, k: int) -> Tensor:
        """Batch ``k`` of the epoch order ``order`` (this rank's slice of it)."""
        batch = order[k * self.batch_size : (k + 1) * self.batch_size]
        if self.world_size > 1:
            batch = batch.tensor_split(self.world_size)[self.rank]
        return batch


class TensorBatches(ShuffledBatches):
    """Shuffled mini-batches of an in-memory (records, leads, time) tensor.

    Args:
        signals: (records, leads, time) tensor.
        batch_size: Records per batch.
        drop_last: Drop the last incomplete batch.
        seed: Seed of the shuffling generator.
        patient_ids: Optional integer patient code per record (records,); each batch then
            carries its records' codes (for methods with ``uses_patient_ids``).
    """

    def __init__(
        self,
        signals: Tensor,
        batch_size: int,
        drop_last: bool,
        seed: int,
        patient_ids: Tensor | None = None,
    ) -> None:
        if patient_ids is not None and tuple(patient_ids.shape) != (signals.shape[0],):
            raise InvalidValueError(
                f"patient_ids must have one entry per record ({signals.shape[0]}), got shape "
                f"{tuple(patient_ids.shape)}"
            )
        super().__init__(batch_size, drop_last, seed)
        self.signals = signals
        self.patient_ids = patient_ids

    @property
    def n_records(self) -> int:
        """Records per epoch."""
        return int(self.signals.shape[0])

    def epoch(self, state: Tensor | None = None, skip: int = 0) -> Iterator[Batch]:
        """Batches of one epoch, as ``(signals, patient_ids or None)``.

        Args:
            state: Generator state to start the epoch from (``None``: the current state).
            skip: Number of leading batches to leave out (already trained on).
        """
        if state is not None:
            self.generator.set_state(state)
        perm = torch.randperm(self.signals.shape[0], generator=self.generator)
        for k in range(skip, len(self)):
            batch = self._indices(perm, k)
            ids = None if self.patient_ids is None else self.patient_ids[batch]
            yield self.signals[batch], ids


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
            raise InvalidTypeError(
                f"the training data ({type(self.loader).__name__}) must have a length "
                "(batches per epoch) for the learning-rate schedule"
            ) from e

    def get_state(self) -> None:
        """The loader's order is not ecgssl's to record: ``None``."""
        return None

    def set_state(self, state: Tensor | None) -> None:
        """No-op (see :meth:`get_state`)."""

    def set_epoch(self, epoch: int) -> None:
        """Tell the loader's sampler (e.g. a ``DistributedSampler``) which epoch starts, so
        that it reshuffles; loaders without ``sampler.set_epoch`` are left alone."""
        set_epoch = getattr(getattr(self.loader, "sampler", None), "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)

    def epoch(self, state: Tensor | None = None, skip: int = 0) -> Iterator[Batch]:
        """Batches of one epoch as ``(signals, None)``, leaving out the first ``skip``.

        A loader's batches carry no patient ids: the first element of a tuple batch is the
        signal, and the rest (labels, ids...) is not interpreted.
        """
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
                raise InvalidTypeError(f"batches must be tensors, got {type(x).__name__}")
            yield x, None
