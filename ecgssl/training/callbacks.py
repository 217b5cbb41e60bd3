"""Hooks into the training loop: the :class:`Callback` interface and the :class:`RunState`
every hook receives.

The :class:`~ecgssl.training.Pretrainer` stays a short loop; logging, monitors and anything
else a run should do on the side are callbacks (the way PyTorch Lightning callbacks and
solo-learn's online evaluators work). The loop calls, in this order:

- ``on_start(run)`` once, after a resume has been restored (``run.step`` > 0 then);
- ``on_step(run, logs)`` after every optimisation step (a batch skipped for a non-finite
  loss has none);
- ``on_metrics(run, metrics)`` whenever a callback publishes metrics with :meth:`RunState.log`
  (e.g. the online monitor's AUROC); metrics published in ``on_start`` are delivered once
  every callback has started (so that loggers have opened their files);
- ``on_epoch(run, row)`` at the end of every epoch with its history row;
- ``on_checkpoint(run, path)`` after a checkpoint file was written;
- ``on_end(run, history)`` once, when training finished.

Callbacks run on every process of a distributed run (``run.is_main`` tells rank 0); the
built-in loggers and the monitor act on rank 0 only. Errors raised by a callback are not
caught: they stop training like any other error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ecgssl.errors import InvalidTypeError

if TYPE_CHECKING:
    from ecgssl.methods.base import SSLMethod
    from ecgssl.training.config import PretrainConfig

__all__ = ["Callback", "CallbackList", "RunState"]


class Callback:
    """Base class of training callbacks: override the hooks you need (all are no-ops).

    ``order`` sorts the callbacks of a run (stable, lower first): callbacks that publish
    metrics (monitors, ``order = -10``) run before those that record them (loggers, 0), so
    that a logger sees a monitor's result of the same step.

    Example:
        >>> class PrintLoss(Callback):
        ...     def on_epoch(self, run, row):
        ...         print(run.epoch, row["loss"])
        >>> Pretrainer(method, callbacks=[PrintLoss()]).fit(data)
    """

    order: int = 0

    def on_start(self, run: RunState) -> None:
        """Training starts (or resumes: then ``run.step`` and ``run.history`` are restored)."""

    def on_step(self, run: RunState, logs: Mapping[str, float]) -> None:
        """An optimisation step finished; ``logs`` has ``step``, ``epoch``, the loss terms,
        ``lr`` and ``momentum`` (NaN for methods without an EMA target)."""

    def on_metrics(self, run: RunState, metrics: Mapping[str, float]) -> None:
        """Metrics published with :meth:`RunState.log` at step ``run.step``."""

    def on_epoch(self, run: RunState, row: Mapping[str, float]) -> None:
        """An epoch finished; ``row`` is its history row (also ``run.history[-1]``)."""

    def on_checkpoint(self, run: RunState, path: Path) -> None:
        """A checkpoint was written to ``path`` (rank 0 only)."""

    def on_end(self, run: RunState, history: list[dict[str, float]]) -> None:
        """Training finished; ``history`` is the run's full history."""


@dataclass
class RunState:
    """What callbacks see of a run; the loop keeps ``step``, ``epoch`` and ``history`` current.

    Attributes:
        method: The SSL method being trained (``method.encoder`` is the online encoder).
        config: The run's settings.
        device: Where the method lives.
        signal: The training data's signal contract (``fs``, ``leads``...).
        steps_per_epoch: Batches per epoch.
        total_steps: Optimisation steps of the whole run.
        n_epochs: Epochs the run starts (the last possibly cut short).
        step: Steps taken so far.
        epoch: Epochs completed so far.
        history: Per-epoch history rows so far (restored ones included after a resume).
        resumed_from: The checkpoint the run continued from, or ``None``.
        is_main: Whether this is rank 0 (always true in a one-process run).
        precision: Precision of the forward passes: ``"bf16"``, ``"fp16"`` or ``"fp32"``.
    """

    method: SSLMethod
    config: PretrainConfig
    device: torch.device
    signal: dict[str, Any]
    steps_per_epoch: int
    total_steps: int
    n_epochs: int
    step: int = 0
    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    resumed_from: Path | None = None
    is_main: bool = True
    precision: str = "fp32"
    #: Metrics published during the epoch in progress: the last value of each goes into the
    #: epoch's history row (and into mid-epoch checkpoints, so that a resume keeps them).
    pending: dict[str, float] = field(default_factory=dict)
    callbacks: CallbackList | None = field(default=None, repr=False)

    def log(self, metrics: Mapping[str, float]) -> None:
        """Publish ``metrics`` at the current step: every callback's ``on_metrics`` receives
        them, and the epoch's history row will carry their last values."""
        clean = {str(k): float(v) for k, v in metrics.items()}
        self.pending.update(clean)
        if self.callbacks is not None:
            self.callbacks.on_metrics(self, clean)


class CallbackList(Callback):
    """Several callbacks called as one, sorted by ``order`` (stable)."""

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        items = list(callbacks)
        for cb in items:
            if not isinstance(cb, Callback):
                raise InvalidTypeError(
                    f"callbacks must be ecgssl.training.Callback instances, got {type(cb).__name__}"
                )
        self.callbacks = sorted(items, key=lambda cb: cb.order)
        self._deferred: list[Mapping[str, float]] | None = None

    def on_start(self, run: RunState) -> None:
        self._deferred = []  # metrics published while starting wait for every on_start
        try:
            for cb in self.callbacks:
                cb.on_start(run)
        finally:
            deferred, self._deferred = self._deferred, None
        for metrics in deferred:
            self.on_metrics(run, metrics)

    def on_step(self, run: RunState, logs: Mapping[str, float]) -> None:
        for cb in self.callbacks:
            cb.on_step(run, logs)

    def on_metrics(self, run: RunState, metrics: Mapping[str, float]) -> None:
        if self._deferred is not None:
            self._deferred.append(metrics)
            return
        for cb in self.callbacks:
            cb.on_metrics(run, metrics)

    def on_epoch(self, run: RunState, row: Mapping[str, float]) -> None:
        for cb in self.callbacks:
            cb.on_epoch(run, row)

    def on_checkpoint(self, run: RunState, path: Path) -> None:
        for cb in self.callbacks:
            cb.on_checkpoint(run, path)

    def on_end(self, run: RunState, history: list[dict[str, float]]) -> None:
        for cb in self.callbacks:
            cb.on_end(run, history)
