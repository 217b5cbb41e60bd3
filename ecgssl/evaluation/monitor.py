"""Online monitor: a kNN or linear probe on a labelled validation split every N steps of
pretraining, so a run shows whether its representation improves before it ends (as
solo-learn's online kNN/linear evaluators and lightly's ``KNNBenchmarkModule`` do).

It is a training callback that lives here, not in :mod:`ecgssl.training`, because it uses
the evaluation code (:func:`~ecgssl.evaluation.embed`, :func:`~ecgssl.evaluation.knn_scores`,
:class:`~ecgssl.evaluation.LinearProbe`) and evaluation sits above training in the one-way
flow of the package; the training loop only knows the
:class:`~ecgssl.training.callbacks.Callback` interface.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ecgssl.data.base import ECGDataset
from ecgssl.encoders.base import Encoder
from ecgssl.errors import InvalidValueError
from ecgssl.evaluation.embed import embed
from ecgssl.evaluation.knn import knn_scores
from ecgssl.evaluation.linear import LinearProbe
from ecgssl.evaluation.metrics import macro_auroc_or_nan
from ecgssl.training.callbacks import Callback, RunState

__all__ = ["PROBES", "OnlineMonitor"]

#: The probes the monitor can run.
PROBES = ("knn", "linear")


class OnlineMonitor(Callback):
    """Scores the online encoder with a kNN or linear probe every ``every_steps`` steps.

    The encoder embeds up to ``max_records`` labelled training records (the bank the probe
    learns from) and up to ``max_records`` validation records (chosen evenly spaced, so the
    same records every time), in batches, in eval mode, without gradients; then
    ``monitor/<probe>_macro_auroc`` (validation macro AUROC; NaN when no class has positives
    and negatives there) and ``monitor/seconds`` are published with
    :meth:`~ecgssl.training.callbacks.RunState.log`, so they reach every logger (JSONL,
    TensorBoard, console) and the epoch's history row. It runs at step 0 of a fresh run (the
    random-init reference), every ``every_steps`` steps and at the last step, on rank 0 only.

    It does not change training: it draws no random numbers (the kNN and the L-BFGS probe are
    deterministic), leaves the weights, BatchNorm statistics and gradients alone, and puts
    the encoder back into training mode; the loop does not count its time in samples/s.

    Args:
        train: Labelled records the probe learns from (e.g. ``dataset.subset("train")``).
        val: Labelled records it is scored on (e.g. ``dataset.subset("val")``).
        every_steps: Evaluate every N optimisation steps.
        probe: ``"knn"`` (cosine k-NN, :func:`~ecgssl.evaluation.knn_scores`) or
            ``"linear"`` (logistic regression with a fixed ``C``).
        max_records: Cap on the records embedded from each of ``train`` and ``val``.
        k: Neighbours of the kNN probe.
        C: Inverse regularisation of the linear probe.
        batch_size: Records per forward pass.

    Example:
        >>> ds = ecgssl.load_dataset("synthetic")
        >>> monitor = OnlineMonitor.from_dataset(ds, every_steps=200)
        >>> Pretrainer(method, callbacks=[monitor]).fit(ds)
    """

    order = -10  # before the loggers, so that they see its metrics of the same step

    def __init__(
        self,
        train: ECGDataset,
        val: ECGDataset,
        every_steps: int,
        probe: str = "knn",
        max_records: int = 512,
        k: int = 20,
        C: float = 1.0,
        batch_size: int = 256,
    ) -> None:
        for name, value, low in (("every_steps", every_steps, 1), ("max_records", max_records, 2),
                                 ("k", k, 1), ("batch_size", batch_size, 1)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if probe not in PROBES:
            raise InvalidValueError(f"probe must be one of {PROBES}, got {probe!r}")
        if not (isinstance(C, (int, float)) and math.isfinite(C) and C > 0):
            raise InvalidValueError(f"C must be a finite number > 0, got {C!r}")
        for name, ds in (("train", train), ("val", val)):
            if not isinstance(ds, ECGDataset) or ds.labels is None:
                raise InvalidValueError(
                    f"the monitor's {name} records must be a labelled ECGDataset"
                )
        if train.classes != val.classes or train.fs != val.fs or train.leads != val.leads:
            raise InvalidValueError(
                "the monitor's train and val records differ in classes, fs or leads"
            )
        self.every_steps, self.probe, self.k, self.C = every_steps, probe, k, float(C)
        self.batch_size = batch_size
        self.fs, self.leads = float(train.fs), list(train.leads)
        self.train, self.val = _evenly(train, max_records), _evenly(val, max_records)

    @classmethod
    def from_dataset(cls, dataset: ECGDataset, every_steps: int, **options: Any) -> OnlineMonitor:
        """A monitor on ``dataset``'s labelled train and val splits.

        Raises:
            ValueError: ``dataset`` has no labels, no split assignment or no val records.
        """
        if dataset.labels is None or dataset.split is None:
            raise InvalidValueError(
                f"the online monitor needs labels and a train/val split, and dataset "
                f"{dataset.name!r} has no {'labels' if dataset.labels is None else 'split'}"
            )
        return cls(dataset.subset("train"), dataset.subset("val"), every_steps, **options)

    def evaluate(self, encoder: Encoder, device: str | torch.device = "auto") -> dict[str, float]:
        """The monitor's metrics for ``encoder`` now (also usable outside a run)."""
        t0 = time.perf_counter()
        bank = embed(encoder, self.train.signals, self.batch_size, device)
        query = embed(encoder, self.val.signals, self.batch_size, device)
        y_train, y_val = np.asarray(self.train.labels), np.asarray(self.val.labels)
        if self.probe == "knn":
            auroc = macro_auroc_or_nan(y_val, knn_scores(bank, y_train, query, k=self.k))
        else:
            auroc = LinearProbe(Cs=(self.C,)).fit(bank, y_train, query, y_val).val_macro_auroc
        return {
            f"monitor/{self.probe}_macro_auroc": float(auroc),
            "monitor/seconds": time.perf_counter() - t0,
        }

    def _run(self, run: RunState) -> None:
        if run.is_main:
            run.log(self.evaluate(run.method.encoder, run.device))

    def on_start(self, run: RunState) -> None:
        fs, leads = run.signal.get("fs"), run.signal.get("leads")
        if fs is not None and float(fs) != self.fs:
            raise InvalidValueError(
                f"the monitor's records are at {self.fs:g} Hz, training at {fs:g} Hz"
            )
        if leads is not None and list(leads) != self.leads:
            raise InvalidValueError(
                f"the monitor's records have leads {self.leads}, the training data {list(leads)}"
            )
        if run.step == 0:
            self._run(run)

    def on_step(self, run: RunState, logs: Mapping[str, float]) -> None:
        if run.step % self.every_steps == 0 or run.step == run.total_steps:
            self._run(run)


def _evenly(ds: ECGDataset, n: int) -> ECGDataset:
    """At most ``n`` records of ``ds``, evenly spaced (deterministic, covers the whole set)."""
    if len(ds) <= n:
        return ds
    return ds.select(np.unique(np.linspace(0, len(ds) - 1, n).round().astype(int)))
