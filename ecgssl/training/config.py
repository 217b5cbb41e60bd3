"""Validated configuration of a pretraining run."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from ecgssl.errors import InvalidValueError
from ecgssl.precision import check_amp

__all__ = ["PretrainConfig"]

_OPTIMIZERS = ("adamw", "lars", "adam", "sgd")


@dataclass
class PretrainConfig:
    """Settings of the shared training loop (identical for every SSL method).

    Attributes:
        epochs: Passes over the training records (ignored when ``steps`` is set).
        steps: Total optimisation steps (``None``: ``epochs`` x steps per epoch). A budget in
            steps means the same on 200 records and on 200,000: the learning-rate warm-up and
            cosine decay and the EMA momentum schedule are laid out over these steps and reach
            their end values at the last one; the last epoch is cut short where needed.
        batch_size: Records per step (two views each). In a distributed (torchrun) run this
            is the *global* batch, split evenly over the processes, so results do not depend
            on the number of processes (see ``docs/distributed.md``).
        lr: Peak learning rate (after warm-up).
        weight_decay: Decoupled weight decay (not applied to biases and norm parameters).
        optimizer: ``"adamw"`` (default), ``"lars"`` (SGD + LARS trust ratio), ``"adam"``
            or ``"sgd"``.
        momentum: SGD/LARS momentum.
        warmup_epochs: Linear warm-up length, in epochs (fractions allowed).
        warmup_steps: Linear warm-up length in steps; when set it replaces ``warmup_epochs``.
        min_lr_ratio: Final learning rate of the cosine schedule, as a fraction of ``lr``.
        grad_clip: Clip the global gradient norm to this value (``None`` or 0: no clipping).
        amp: Mixed precision of the forward passes (:mod:`ecgssl.precision`). ``"auto"``: on
            CUDA always (bfloat16, or float16 with a gradient scaler); on CPU bfloat16 only
            where the CPU has bfloat16 units (AVX-512 BF16/AMX) and a timed matmul shows it is
            not slower than float32, else off. ``True`` forces it (bfloat16 on CPU, with a
            warning where slow), ``False`` turns it off. Weights, optimiser state, EMA
            targets and losses stay float32.
        device: ``"auto"`` (CUDA if available, else CPU), or a torch device string (a
            ``torch.device`` is converted to its string).
        seed: Seed for weights, batch order and augmentations.
        drop_last: Drop the last incomplete batch of each epoch.
        stream: Read the training records from disk batch by batch as training goes
            (:class:`~ecgssl.training.stream_batches.StreamBatches`: a background thread
            reads the next batches while the current one trains; each distributed rank reads
            only its slice) instead of copying the train split into one tensor. ``None``
            (default): stream signal caches, streamed sets
            (:func:`ecgssl.data.stream_caches`) and memory-mapped datasets, copy the rest;
            ``True``: stream always; ``False``: copy always. The batches, and so the trained
            weights, are the same either way for the same seed.
        checkpoint_dir: Folder for checkpoints (``None``: no checkpoints).
        checkpoint_every: Save every N epochs (the final epoch is always saved).
        checkpoint_every_steps: Also save every N optimisation steps, mid-epoch included
            (``None``: only at epoch ends). A resumed run continues from the exact batch.
        keep_last: Number of most recent checkpoints kept.
        health_every: Log representation-health statistics
            (:func:`ecgssl.training.health.representation_health`) on a fixed batch of
            training records every N epochs into the history, and warn if the representation
            collapses; 0 turns it off.
        resume: ``None``; ``"auto"`` (newest valid checkpoint in ``checkpoint_dir``); or a path.
        progress: Show a tqdm progress bar and print one line per epoch (loss, lr, EMA
            momentum, samples/s, monitor metrics); ``False`` keeps the loop quiet.
        log_dir: Folder for the run's logs, written and flushed while training runs
            (:mod:`ecgssl.training.loggers`): ``log.jsonl`` (start, steps, metrics, epochs,
            checkpoints) and ``history.csv`` (one row per epoch); ``None``: no log files.
        log_every_steps: Write a step line to ``log.jsonl`` (and TensorBoard) every N
            optimisation steps; epoch rows and published metrics are always written.
        tensorboard: Also write TensorBoard events to ``log_dir/tensorboard`` (needs the
            ``tensorboard`` package: ``pip install "ecgssl[tensorboard]"``).
        nan_policy: What a non-finite loss does: ``"raise"`` (stop with the step) or ``"skip"``
            (drop the batch and count it).
        sync_batchnorm: In a distributed run on GPUs, convert every BatchNorm to
            ``torch.nn.SyncBatchNorm`` so that batch statistics span the global batch
            (PyTorch's SyncBatchNorm has no CPU implementation). Ignored in a one-process run.
        compile: Compile the training step (forward, loss, backward) with ``torch.compile``.
            Opt-in: the first steps pay the compilation (tens of seconds), it needs a C++
            compiler on CPU, and whether it pays off depends on the device; see
            ``benchmarks/README.md`` for the measurement behind the default.
        activation_checkpointing: Checkpoint the online encoder's blocks
            (:meth:`ecgssl.encoders.Encoder.set_checkpointing`): each block keeps only its
            input and is recomputed in backward. Same gradients, far less activation memory
            (the default encoder at 500 Hz x 10 s, batch 256: see ``docs/benchmarks.md``)
            for about one more forward pass of compute per step. EMA targets run without it
            (no gradients). Needs an encoder that supports it (the built-in ones).
        tune_cpu_malloc: On CPU with glibc, keep freed memory inside the process (no ``mmap``
            per large tensor, no trimming) so that every step does not page-fault its
            activations afresh: 1.8-2.9x faster steps for about 20 % more peak memory
            (:mod:`ecgssl.training.allocator`). Process-wide; ``False`` leaves malloc alone.
    """

    epochs: int = 40
    steps: int | None = None
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    optimizer: str = "adamw"
    momentum: float = 0.9
    warmup_epochs: float = 2.0
    warmup_steps: int | None = None
    min_lr_ratio: float = 0.01
    grad_clip: float | None = 3.0
    amp: bool | str = "auto"
    device: str = "auto"
    seed: int = 0
    drop_last: bool = True
    stream: bool | None = None
    checkpoint_dir: str | Path | None = None
    checkpoint_every: int = 10
    checkpoint_every_steps: int | None = None
    keep_last: int = 2
    health_every: int = 1
    resume: str | Path | None = None
    progress: bool = True
    log_dir: str | Path | None = None
    log_every_steps: int = 10
    tensorboard: bool = False
    nan_policy: str = "raise"
    sync_batchnorm: bool = False
    compile: bool = False
    activation_checkpointing: bool = False
    tune_cpu_malloc: bool = True

    def __post_init__(self) -> None:
        def positive_int(name: str, minimum: int = 1) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
                raise InvalidValueError(f"{name} must be an integer >= {minimum}, got {v!r}")

        def number(name: str, low: float, high: float = math.inf, strict_low: bool = False) -> None:
            v = getattr(self, name)
            try:
                finite = not isinstance(v, bool) and math.isfinite(v)
            except (TypeError, OverflowError):  # not a number, or an int too large for a float
                finite = False
            if not finite:
                raise InvalidValueError(f"{name} must be a finite number, got {v!r}")
            if (v <= low if strict_low else v < low) or v > high:
                bound = f"> {low}" if strict_low else f">= {low}"
                extra = f" and <= {high}" if high != math.inf else ""
                raise InvalidValueError(f"{name} must be {bound}{extra}, got {v}")

        def boolean(name: str) -> None:
            v = getattr(self, name)
            if not isinstance(v, bool):
                raise InvalidValueError(f"{name} must be True or False, got {v!r}")

        def path_or_none(name: str) -> None:
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (str, Path)) or not str(v).strip()):
                raise InvalidValueError(
                    f"{name} must be a folder path (str or Path) or None, got {v!r}"
                )

        positive_int("epochs")
        positive_int("batch_size")
        if self.steps is not None:
            positive_int("steps")
        if self.warmup_steps is not None:
            positive_int("warmup_steps", 0)
        positive_int("checkpoint_every")
        if self.checkpoint_every_steps is not None:
            positive_int("checkpoint_every_steps")
        positive_int("keep_last")
        positive_int("health_every", 0)
        positive_int("log_every_steps")
        positive_int("seed", 0)
        if self.seed >= 2**63:
            raise InvalidValueError(f"seed must be < 2**63, got {self.seed}")
        number("lr", 0.0, strict_low=True)
        number("weight_decay", 0.0)
        number("momentum", 0.0, 1.0)
        number("warmup_epochs", 0.0)
        number("min_lr_ratio", 0.0, 1.0)
        if self.grad_clip is not None:
            number("grad_clip", 0.0)
        boolean("drop_last")
        if self.stream is not None:
            boolean("stream")
        boolean("progress")
        boolean("tensorboard")
        boolean("sync_batchnorm")
        boolean("compile")
        boolean("activation_checkpointing")
        boolean("tune_cpu_malloc")
        if not isinstance(self.optimizer, str) or self.optimizer.lower() not in _OPTIMIZERS:
            raise InvalidValueError(
                f"optimizer must be one of {_OPTIMIZERS}, got {self.optimizer!r}"
            )
        self.optimizer = self.optimizer.lower()
        check_amp(self.amp)
        if isinstance(self.device, torch.device):
            self.device = str(self.device)
        if not isinstance(self.device, str) or not self.device.strip():
            raise InvalidValueError(
                f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}"
            )
        if self.nan_policy not in ("raise", "skip"):
            raise InvalidValueError(
                f"nan_policy must be 'raise' or 'skip', got {self.nan_policy!r}"
            )
        path_or_none("checkpoint_dir")
        path_or_none("resume")
        path_or_none("log_dir")
        if self.tensorboard and self.log_dir is None:
            raise InvalidValueError("tensorboard=True needs a log_dir to write the events to")
        if self.resume is not None and self.resume != "auto" and not Path(self.resume).exists():
            raise InvalidValueError(f"resume checkpoint {str(self.resume)!r} does not exist")
        if self.resume == "auto" and self.checkpoint_dir is None:
            raise InvalidValueError("resume='auto' needs a checkpoint_dir to look in")

    def total_steps(self, steps_per_epoch: int) -> int:
        """Optimisation steps of the run for ``steps_per_epoch`` batches per epoch."""
        return self.steps if self.steps is not None else self.epochs * steps_per_epoch

    def n_epochs(self, steps_per_epoch: int) -> int:
        """Epochs the run starts (the last one possibly cut short at ``steps``)."""
        return math.ceil(self.total_steps(steps_per_epoch) / steps_per_epoch)

    def n_warmup_steps(self, steps_per_epoch: int) -> int:
        """Warm-up steps: ``warmup_steps``, else ``warmup_epochs`` x steps per epoch; never
        the whole run."""
        w = self.warmup_steps
        if w is None:
            w = round(self.warmup_epochs * steps_per_epoch)
        return min(w, max(0, self.total_steps(steps_per_epoch) - 1))

    @classmethod
    def field_names(cls) -> set[str]:
        """Names of all configuration fields."""
        return {f.name for f in fields(cls)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary of the settings."""
        d = asdict(self)
        for k in ("checkpoint_dir", "resume", "log_dir"):
            if d[k] is not None:
                d[k] = str(d[k])
        return d
