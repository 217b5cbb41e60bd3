"""Mini-batches streamed from disk (a :class:`~ecgssl.data.streamed.StreamedSignals`),
resumable at any step of an epoch, like :class:`~ecgssl.training.batches.TensorBatches`.

The epoch order comes from the set's :meth:`~ecgssl.data.streamed.StreamedSignals.epoch_order`
with this object's generator (for one source: the very ``torch.randperm`` that
``TensorBatches`` draws), so the generator state at the start of an epoch plus the number of
batches consumed pins the rest of the epoch, and a streamed run trains on the same batches,
in the same order, as an in-memory run with the same seed. Random crops are the
augmentation pipeline's, applied to the full records after they are read.

Distributed: every rank draws the same order and reads only its contiguous slice of each
global batch. Reading overlaps compute: a background thread reads the next ``prefetch``
batches (positioned reads release the GIL) while the current one trains.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import torch
from torch import Tensor

from ecgssl.data.streamed import StreamedSignals
from ecgssl.errors import InvalidValueError
from ecgssl.training.batches import Batch, ShuffledBatches

__all__ = ["StreamBatches"]


class StreamBatches(ShuffledBatches):
    """Shuffled mini-batches read from a :class:`StreamedSignals` as training goes.

    Args:
        signals: The streamed set.
        batch_size: Records per (global) batch.
        drop_last: Drop the last incomplete batch.
        seed: Seed of the shuffling generator.
        prefetch: Batches read ahead in a background thread (0: read in the loop).
    """

    def __init__(self, signals: StreamedSignals, batch_size: int, drop_last: bool, seed: int,
                 prefetch: int = 2) -> None:  # fmt: skip
        if prefetch < 0:
            raise InvalidValueError(f"prefetch must be >= 0, got {prefetch}")
        super().__init__(batch_size, drop_last, seed)
        self.signals = signals
        self.prefetch = prefetch
        #: Seconds spent reading batches (in the prefetch thread), and seconds the training
        #: loop waited for a batch: the reading that did not overlap compute.
        self.read_seconds = 0.0
        self.wait_seconds = 0.0

    @property
    def n_records(self) -> int:
        """Records per epoch (the set's epoch order)."""
        return int(self.signals.epoch_records)

    def probe(self, n: int) -> Tensor:
        """The first ``n`` records of the set (fixed records for health statistics)."""
        return torch.from_numpy(self.signals.read(torch.arange(min(n, len(self.signals)))))

    def _read(self, index: Tensor) -> Batch:
        t0 = time.perf_counter()
        x = torch.from_numpy(self.signals.read(index.numpy()))
        ids = None if self.signals.patient_ids is None else self.signals.patient_ids[index]
        self.read_seconds += time.perf_counter() - t0
        return x, ids

    def _wait(self, future: Future[Batch]) -> Batch:
        t0 = time.perf_counter()
        batch = future.result()
        self.wait_seconds += time.perf_counter() - t0
        return batch

    def epoch(self, state: Tensor | None = None, skip: int = 0) -> Iterator[Batch]:
        """Batches of one epoch, as ``(signals, patient_ids or None)``.

        Args:
            state: Generator state to start the epoch from (``None``: the current state).
            skip: Number of leading batches to leave out (already trained on).
        """
        if state is not None:
            self.generator.set_state(state)
        order = self.signals.epoch_order(self.generator)
        ks = iter(range(skip, len(self)))
        if self.prefetch == 0:
            for k in ks:
                t0 = time.perf_counter()
                batch = self._read(self._indices(order, k))
                self.wait_seconds += time.perf_counter() - t0
                yield batch
            return
        with ThreadPoolExecutor(1, thread_name_prefix="ecgssl-prefetch") as pool:
            pending: deque[Future[Batch]] = deque()
            try:
                for k in ks:
                    pending.append(pool.submit(self._read, self._indices(order, k)))
                    if len(pending) > self.prefetch:
                        yield self._wait(pending.popleft())
                while pending:
                    yield self._wait(pending.popleft())
            finally:
                for f in pending:  # the loop stopped early (step budget, error)
                    f.cancel()
