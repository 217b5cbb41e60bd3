"""Built-in loggers: a JSONL event log and a CSV history written (and flushed) while training
runs, TensorBoard scalars, and one console line per epoch.

``PretrainConfig(log_dir=...)`` adds the JSONL and CSV loggers (``tensorboard=True`` adds
TensorBoard), ``progress=True`` the console line; :func:`default_loggers` builds that list.
All of them write on rank 0 only.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from tqdm.auto import tqdm

from ecgssl.errors import InvalidValueError, MissingDependencyError
from ecgssl.training.callbacks import Callback, RunState
from ecgssl.training.config import PretrainConfig

__all__ = ["CSVLogger", "ConsoleLogger", "JSONLLogger", "TensorBoardLogger", "default_loggers"]

#: Keys of a step or history row that are positions, not metrics.
_POSITION = ("epoch", "step")


def _json_value(value: Any) -> Any:
    """NaN/Inf floats as ``None`` (valid JSON, empty CSV cells)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class JSONLLogger(Callback):
    """One JSON object per line, flushed as it is written, so the file can be read (``tail
    -f``, pandas) while training runs.

    Every line has an ``event``: ``start`` (method, config, signal, ``resumed_from``),
    ``step`` (every ``every_steps`` steps: ``step``, ``epoch``, loss terms, ``lr``,
    ``momentum``), ``metrics`` (published by callbacks such as the online monitor, with their
    ``step``), ``epoch`` (the history row), ``checkpoint`` (``path``) and ``end``. NaN is
    written as ``null``. A resumed run drops the lines after the step it resumes from and
    appends, so the file reads as one uninterrupted run.

    Args:
        path: The ``.jsonl`` file (folders are created).
        every_steps: Write a ``step`` line every N optimisation steps.
    """

    def __init__(self, path: str | Path, every_steps: int = 1) -> None:
        if isinstance(every_steps, bool) or not isinstance(every_steps, int) or every_steps < 1:
            raise InvalidValueError(f"every_steps must be an integer >= 1, got {every_steps!r}")
        self.path = Path(path)
        self.every_steps = every_steps
        self._file: IO[str] | None = None

    def _write(self, event: str, row: Mapping[str, Any]) -> None:
        if self._file is None:
            return
        line = {"event": event, **{k: _json_value(v) for k, v in row.items()}}
        self._file.write(json.dumps(line, default=str, allow_nan=False) + "\n")
        self._file.flush()

    def on_start(self, run: RunState) -> None:
        if not run.is_main:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if run.step > 0 and self.path.exists():  # resume: keep the log up to the resumed step
            kept = [
                line for line in self.path.read_text().splitlines() if _at_or_before(line, run.step)
            ]
            self.path.write_text("".join(f"{line}\n" for line in kept))
            self._file = self.path.open("a")
        else:
            self._file = self.path.open("w")
        self._write("start", {
            "step": run.step, "time": time.time(), "method": run.method.name,
            "config": run.config.to_dict(), "signal": run.signal, "precision": run.precision,
            "resumed_from": None if run.resumed_from is None else str(run.resumed_from),
        })  # fmt: skip

    def on_step(self, run: RunState, logs: Mapping[str, float]) -> None:
        if run.step % self.every_steps == 0:
            self._write("step", logs)

    def on_metrics(self, run: RunState, metrics: Mapping[str, float]) -> None:
        self._write("metrics", {"step": run.step, **metrics})

    def on_epoch(self, run: RunState, row: Mapping[str, float]) -> None:
        self._write("epoch", row)

    def on_checkpoint(self, run: RunState, path: Path) -> None:
        self._write("checkpoint", {"step": run.step, "epoch": run.epoch, "path": str(path)})

    def on_end(self, run: RunState, history: list[dict[str, float]]) -> None:
        self._write("end", {"step": run.step, "epoch": run.epoch, "time": time.time()})
        if self._file is not None:
            self._file.close()
            self._file = None


def _at_or_before(line: str, step: int) -> bool:
    """Whether a JSONL line belongs to the run up to ``step`` (unreadable lines are dropped)."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return False
    return isinstance(row, dict) and row.get("event") != "end" and row.get("step", 0) <= step


class CSVLogger(Callback):
    """The history, one row per epoch, rewritten with a wider header when a new column
    appears (e.g. the first health or monitor value) and flushed after every epoch.

    Args:
        path: The ``.csv`` file (folders are created).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._columns: list[str] = []
        self._active = False

    def _rewrite(self, rows: list[dict[str, float]]) -> None:
        for row in rows:
            self._columns += [k for k in row if k not in self._columns]
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, self._columns)
            writer.writeheader()
            writer.writerows({k: _json_value(v) for k, v in row.items()} for row in rows)

    def on_start(self, run: RunState) -> None:
        self._active = run.is_main
        if self._active:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._columns = []
            self._rewrite(list(run.history))  # after a resume: the restored epochs

    def on_epoch(self, run: RunState, row: Mapping[str, float]) -> None:
        if not self._active:
            return
        if any(k not in self._columns for k in row):
            self._rewrite(list(run.history))
            return
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, self._columns).writerow({k: _json_value(v) for k, v in row.items()})


class TensorBoardLogger(Callback):
    """TensorBoard scalars through ``torch.utils.tensorboard.SummaryWriter``, against the
    optimisation step: ``train/<term>`` every ``every_steps`` steps, ``epoch/<key>`` per
    epoch, namespaced keys (``health/...``, ``monitor/...``) under their own name. A resumed
    run purges the events after the step it resumes from.

    Needs the ``tensorboard`` package (``pip install "ecgssl[tensorboard]"``); without it the
    constructor raises ``ImportError`` saying so, before training starts.

    Args:
        log_dir: Folder of the event files (``tensorboard --logdir`` it).
        every_steps: Log the step scalars every N optimisation steps.
    """

    def __init__(self, log_dir: str | Path, every_steps: int = 1) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as e:  # torch raises it when the tensorboard package is missing
            raise MissingDependencyError(
                "TensorBoard logging needs the tensorboard package: pip install "
                "'ecgssl[tensorboard]' (or pip install tensorboard)"
            ) from e
        if isinstance(every_steps, bool) or not isinstance(every_steps, int) or every_steps < 1:
            raise InvalidValueError(f"every_steps must be an integer >= 1, got {every_steps!r}")
        self._writer_cls = SummaryWriter
        self.log_dir = Path(log_dir)
        self.every_steps = every_steps
        self._writer: Any = None

    def _scalars(self, items: Mapping[str, float], step: int, prefix: str) -> None:
        if self._writer is None:
            return
        for k, v in items.items():
            if k in _POSITION or not isinstance(v, (int, float)) or not math.isfinite(v):
                continue
            self._writer.add_scalar(k if "/" in k else f"{prefix}/{k}", float(v), step)

    def on_start(self, run: RunState) -> None:
        if run.is_main:
            purge = run.step if run.step > 0 else None
            self._writer = self._writer_cls(str(self.log_dir), purge_step=purge)

    def on_step(self, run: RunState, logs: Mapping[str, float]) -> None:
        if run.step % self.every_steps == 0:
            self._scalars(logs, run.step, "train")

    def on_metrics(self, run: RunState, metrics: Mapping[str, float]) -> None:
        self._scalars(metrics, run.step, "metrics")
        if self._writer is not None:
            self._writer.flush()

    def on_epoch(self, run: RunState, row: Mapping[str, float]) -> None:
        # Metrics published during the epoch were logged at their own step already.
        self._scalars({k: v for k, v in row.items() if k not in run.pending}, run.step, "epoch")
        if self._writer is not None:
            self._writer.flush()

    def on_end(self, run: RunState, history: list[dict[str, float]]) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class ConsoleLogger(Callback):
    """One line per epoch on the console (through ``tqdm.write``, so progress bars stay
    intact): loss, lr, EMA momentum where the method has one, samples/s, and any
    ``monitor/...`` metric of the epoch."""

    def on_epoch(self, run: RunState, row: Mapping[str, float]) -> None:
        if not run.is_main:
            return
        parts = [f"loss {row.get('loss', math.nan):.4f}", f"lr {row.get('lr', math.nan):.2e}"]
        momentum = row.get("momentum", math.nan)
        if math.isfinite(momentum):
            parts.append(f"momentum {momentum:.4f}")
        parts.append(f"{row.get('samples_per_s', math.nan):.0f} samples/s")
        parts += [f"{k.removeprefix('monitor/')} {v:.4f}" for k, v in row.items()
                  if k.startswith("monitor/") and k != "monitor/seconds"]  # fmt: skip
        tqdm.write(
            f"{run.method.name} epoch {run.epoch}/{run.n_epochs} step {run.step}/"
            f"{run.total_steps}: {', '.join(parts)}"
        )


def default_loggers(config: PretrainConfig) -> list[Callback]:
    """The loggers a configuration asks for: JSONL (``log.jsonl``) and CSV (``history.csv``)
    in ``log_dir``, TensorBoard in ``log_dir/tensorboard`` with ``tensorboard=True``, and the
    console line with ``progress=True``."""
    out: list[Callback] = []
    if config.log_dir is not None:
        log_dir = Path(config.log_dir)
        out.append(JSONLLogger(log_dir / "log.jsonl", every_steps=config.log_every_steps))
        out.append(CSVLogger(log_dir / "history.csv"))
        if config.tensorboard:
            out.append(TensorBoardLogger(log_dir / "tensorboard", config.log_every_steps))
    if config.progress:
        out.append(ConsoleLogger())
    return out
