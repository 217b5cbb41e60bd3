"""The shared training loop: every SSL method is fitted by the same code.

The loop is resumable at any step: a checkpoint holds the weights (EMA targets included),
the optimiser, gradient-scaler and schedule state, every random generator (torch, CUDA,
augmentation, and the batch order at the start of the epoch in progress), the number of
batches of that epoch already consumed and the partial epoch statistics. Resuming from it
on the same data and settings (deterministic algorithms, same thread count) reproduces the
uninterrupted run bit for bit.

Launched by ``torchrun`` (see :mod:`ecgssl.training.distributed` and ``docs/distributed.md``)
the same loop trains with DistributedDataParallel: ``batch_size`` is the global batch, each
rank trains on its slice, only rank 0 writes checkpoints and shows progress, and a checkpoint
holds every rank's random generators so that a resumed distributed run continues exactly.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from ecgssl import __version__
from ecgssl.augment.base import AugSpec, TwoViews
from ecgssl.augment.policies import ssl_policy
from ecgssl.device import resolve_device
from ecgssl.encoders.base import Encoder
from ecgssl.errors import ECGSSLError, InvalidTypeError, InvalidValueError
from ecgssl.methods.base import SSLMethod
from ecgssl.precision import AmpPlan, resolve_amp
from ecgssl.training.allocator import tune_cpu_allocator
from ecgssl.training.batches import TensorBatches
from ecgssl.training.callbacks import Callback, CallbackList, RunState
from ecgssl.training.checkpoint import (
    CHECKPOINT_FORMAT,
    atomic_torch_save,
    checkpoint_name,
    latest_valid_checkpoint,
    load_checkpoint,
    plain_data,
    prune_checkpoints,
    remove_stale_temp_files,
)
from ecgssl.training.compat import CheckpointMismatchError, check_checkpoint
from ecgssl.training.config import PretrainConfig
from ecgssl.training.distributed import (
    StepModule,
    all_ranks_true,
    broadcast_object,
    check_replicas,
    detect_launch,
    gather_objects,
    is_main_process,
    mean_over_ranks,
    rank,
    setup,
    shard_batches,
    world_size,
)
from ecgssl.training.health import is_collapsed, representation_health
from ecgssl.training.inputs import AnyBatches, TrainingData, prepare_training_data
from ecgssl.training.loggers import default_loggers
from ecgssl.training.optim import build_optimizer, warmup_cosine
from ecgssl.training.stream_batches import StreamBatches
from ecgssl.validation import STANDARD_LEADS, check_signal

__all__ = ["NonFiniteLossError", "PretrainResult", "Pretrainer"]

#: Settings that change the training trajectory; a resume that changes them is warned about.
_TRAJECTORY = ("epochs", "steps", "warmup_steps", "batch_size", "lr", "weight_decay", "optimizer", "momentum",
               "warmup_epochs", "min_lr_ratio", "grad_clip", "amp", "seed", "drop_last",
               "nan_policy", "sync_batchnorm")  # fmt: skip


class NonFiniteLossError(ECGSSLError, FloatingPointError):
    """Training produced a NaN/Inf loss."""


@dataclass
class PretrainResult:
    """What :meth:`Pretrainer.fit` returns.

    Attributes:
        encoder: The pretrained online encoder (eval mode).
        method: The fitted method (heads and targets included).
        history: One dict per epoch: epoch, loss, lr, momentum, seconds, samples_per_s, any
            extra terms the method logs (e.g. BELL's intra/inter), ``health/...``
            representation-health statistics (see ``PretrainConfig.health_every``) and the
            last value in that epoch of every metric callbacks published (e.g. the online
            monitor's ``monitor/knn_macro_auroc``).
        checkpoint_path: The last checkpoint written (or resumed from), or ``None``.
        config: The training configuration.
        signal: The signal contract of the training data (fs, leads, window length).
        skipped_batches: Batches dropped because of a non-finite loss (``nan_policy="skip"``).
        resumed_from: The checkpoint the run continued from, or ``None``.
        metadata: The facts the Pretrainer stored in its checkpoints (dataset...).
        precision: Precision of the forward passes: ``"bf16"`` or ``"fp16"`` (autocast, see
            ``PretrainConfig.amp``) or ``"fp32"``; checkpoints and ``log.jsonl`` record it too.
    """

    encoder: Encoder
    method: SSLMethod
    history: list[dict[str, float]]
    checkpoint_path: Path | None
    config: PretrainConfig
    signal: dict[str, Any] = field(default_factory=dict)
    skipped_batches: int = 0
    resumed_from: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    precision: str = "fp32"

    @property
    def final_loss(self) -> float:
        return self.history[-1]["loss"] if self.history else math.nan

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write the encoder as a folder (``model.safetensors`` + ``config.json``) whose card
        records the training data's signal contract, the method and the dataset.

        :func:`ecgssl.load_encoder` reads it back; see :meth:`Encoder.save_pretrained`.

        Example:
            >>> result = ecgssl.pretrain("bell")
            >>> result.save_pretrained("runs/bell/encoder")
        """
        m, sig = self.method, self.signal
        return self.encoder.save_pretrained(
            directory, signal=sig, method={"name": m.name, "hparams": m.hparams},
            preprocessing=self.metadata.get("preprocessing", sig.get("preprocessing")),
            normalisation=self.metadata.get("normalisation", sig.get("normalisation")),
            dataset=self.metadata.get("dataset"),
        )  # fmt: skip


@dataclass
class _Progress:
    """Where a run stands: everything besides weights, optimiser and RNGs that a resume needs."""

    epoch: int = 0  # completed epochs
    step: int = 0  # batches processed (optimisation steps, skipped batches included)
    batch_in_epoch: int = 0  # batches of the epoch in progress already processed
    epoch_rng: Tensor | None = None  # batch-order generator state at that epoch's start
    history: list[dict[str, float]] = field(default_factory=list)
    sums: dict[str, float] = field(default_factory=dict)  # partial epoch loss sums
    n_seen: int = 0
    n_steps: int = 0
    seconds: float = 0.0
    skipped: int = 0
    tau: float = math.nan
    last_ckpt: Path | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # published in the epoch so far

    def to_dict(self) -> dict[str, Any]:
        return {
            "sums": dict(self.sums), "n_seen": self.n_seen, "n_steps": self.n_steps,
            "seconds": self.seconds, "metrics": dict(self.metrics),
        }  # fmt: skip


class Pretrainer:
    """Fits an :class:`~ecgssl.methods.base.SSLMethod` with AdamW/LARS, warm-up + cosine LR,
    EMA target updates every step, gradient clipping, mixed precision (CUDA, and CPUs with
    fast bfloat16) and atomic checkpoints.

    Args:
        method: The SSL method (holding its encoder).
        augmentation: View pipeline: a :class:`TwoViews`, an augmentation (used for both
            views), a name/spec/list, or ``None`` for :func:`ecgssl.augment.ssl_policy`.
        config: Training settings; keyword overrides are applied on top.
        metadata: Extra JSON-like facts stored in checkpoints (dataset, preprocessing...).
        callbacks: :class:`~ecgssl.training.callbacks.Callback` s called during :meth:`fit`
            (e.g. a logger or :class:`ecgssl.evaluation.OnlineMonitor`), after the loggers
            the configuration asks for (``log_dir``, ``tensorboard``, ``progress``; see
            :func:`ecgssl.training.loggers.default_loggers`). Their errors are not caught.
        **overrides: Any :class:`PretrainConfig` field.

    Example:
        >>> result = Pretrainer(method, epochs=20).fit(ecgssl.load_dataset("synthetic"))
    """

    def __init__(
        self,
        method: SSLMethod,
        augmentation: TwoViews | AugSpec | list[AugSpec] | None = None,
        config: PretrainConfig | None = None,
        metadata: dict[str, Any] | None = None,
        callbacks: Sequence[Callback] | None = None,
        **overrides: Any,
    ) -> None:
        if not isinstance(method, SSLMethod):
            raise InvalidTypeError(f"method must be an SSLMethod, got {type(method).__name__}")
        unknown = set(overrides) - PretrainConfig.field_names()
        if unknown:
            raise InvalidTypeError(
                f"unknown Pretrainer option(s) {sorted(unknown)}; valid: "
                f"{sorted(PretrainConfig.field_names())}"
            )
        base = (config or PretrainConfig()).to_dict()
        self.config = PretrainConfig(**{**base, **overrides})
        self.method = method
        if self.config.activation_checkpointing and not method.encoder.supports_checkpointing:
            raise InvalidValueError(
                f"activation_checkpointing=True needs an encoder that supports it; "
                f"{type(method.encoder).__name__} does not (the built-in multibranch, resnet1d "
                "and inception1d encoders do)"
            )
        if augmentation is None:
            augmentation = ssl_policy()
        self.views = augmentation if isinstance(augmentation, TwoViews) else TwoViews(augmentation)
        self.metadata = plain_data(dict(metadata or {}), "metadata")
        self.device = resolve_device(self.config.device)
        self.callbacks = CallbackList([*default_loggers(self.config), *(callbacks or ())])

        self.signal: dict[str, Any] = {}

    # -- checks --------------------------------------------------------------------------------
    def _check_contract(self, x: Tensor, fs: float) -> None:
        enc = self.method.encoder
        if x.shape[1] != enc.n_leads:
            raise InvalidValueError(
                f"the data have {x.shape[1]} leads but the encoder expects {enc.n_leads}"
            )
        enc.check_fs(fs)
        need = self.views.min_length(fs)
        if x.shape[-1] < need:
            raise InvalidValueError(
                f"records have {x.shape[-1]} samples ({x.shape[-1] / fs:.2f} s at {fs:g} Hz) but "
                f"the augmentation pipeline needs at least {need} ({need / fs:.2f} s)"
            )
        leads = self.signal.get("leads")
        needs_standard = 12 in (self.views.view1.n_leads, self.views.view2.n_leads)
        if needs_standard and leads is not None and tuple(leads) != STANDARD_LEADS:
            raise InvalidValueError(
                f"the augmentation pipeline (VCG) needs the standard 12-lead order "
                f"{list(STANDARD_LEADS)}, but the data's leads are {list(leads)}"
            )

    def _check_resume(self, ckpt: dict[str, Any], path: Path, steps_per_epoch: int,
                      precision: str) -> None:  # fmt: skip
        m, sig = self.method, self.signal
        check_checkpoint(
            ckpt, source=f"cannot resume from {path}", method=m.name, hparams=m.hparams,
            encoder=m.encoder.config, fs=sig.get("fs"), leads=sig.get("leads"),
        )  # fmt: skip
        theirs = ckpt.get("steps_per_epoch")
        if theirs is not None and theirs != steps_per_epoch:
            raise CheckpointMismatchError(
                f"cannot resume from {path}: it was trained with {theirs} batches per epoch, "
                f"this run has {steps_per_epoch} (different data, batch_size or drop_last)"
            )
        main = is_main_process()  # errors on every rank, warnings once
        if ckpt.get("ecgssl_version") != __version__ and main:
            warnings.warn(
                f"{path} was written by ecgssl {ckpt.get('ecgssl_version')}, this is "
                f"{__version__}; resuming anyway",
                RuntimeWarning,
                stacklevel=3,
            )
        old = ckpt.get("config", {})
        changed = [k for k in _TRAJECTORY if k in old and old[k] != getattr(self.config, k)]
        details = [f"{k}: {old[k]!r} -> {getattr(self.config, k)!r}" for k in changed]
        theirs_precision = ckpt.get("precision", {}).get("autocast")
        if theirs_precision is not None and theirs_precision != precision and "amp" not in changed:
            details.append(f"autocast: {theirs_precision} -> {precision} (amp='auto' decides "
                           "per machine; set amp=True/False to pin it)")  # fmt: skip
        if details and main:
            detail = ", ".join(details)
            warnings.warn(
                f"resuming from {path} with changed settings ({detail}); the run will not "
                "match an uninterrupted one",
                RuntimeWarning,
                stacklevel=3,
            )

    # -- checkpoints ---------------------------------------------------------------------------
    def _state(self, p: _Progress, optimizer: Any, scaler: Any, aug_gen: torch.Generator,
               batches: AnyBatches, schedule: dict[str, Any],
               steps_per_epoch: int, amp: AmpPlan) -> dict[str, Any]:  # fmt: skip
        m, sig = self.method, self.signal
        mid_epoch = p.batch_in_epoch > 0
        cuda_rng = torch.cuda.get_rng_state() if torch.cuda.is_available() else None
        ranks = gather_objects({"torch": torch.get_rng_state(), "cuda": cuda_rng,
                                "augment": aug_gen.get_state()})  # fmt: skip
        return {
            "format": CHECKPOINT_FORMAT,
            "ecgssl_version": __version__,
            "torch_version": str(torch.__version__),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "method": {"name": m.name, "hparams": m.hparams},
            "encoder": m.encoder.config,
            "signal": {k: v for k, v in sig.items() if k not in ("preprocessing", "normalisation")},
            "preprocessing": self.metadata.get("preprocessing", sig.get("preprocessing")),
            "normalisation": self.metadata.get("normalisation", sig.get("normalisation")),
            "augmentation": repr(self.views),
            "metadata": self.metadata,
            "config": self.config.to_dict(),
            "precision": {"autocast": amp.label, "reason": amp.reason},
            "epoch": p.epoch,
            "step": p.step,
            "batch_in_epoch": p.batch_in_epoch,
            "steps_per_epoch": steps_per_epoch,
            "world_size": len(ranks),
            "history": list(p.history),
            "epoch_progress": p.to_dict() if mid_epoch else None,
            "skipped_batches": p.skipped,
            "method_state": m.state_dict(),
            "ema": {"momentum": p.tau, "n_targets": len(m.targets)} if m.uses_momentum else None,
            "optimizer": {"name": self.config.optimizer, "state": optimizer.state_dict()},
            "scheduler": schedule,
            "grad_scaler": scaler.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "augment": aug_gen.get_state(),
                "batches_epoch_start": p.epoch_rng if mid_epoch else batches.get_state(),
                **({"ranks": ranks} if len(ranks) > 1 else {}),  # every rank's, when distributed
            },
        }

    def _restore(self, ckpt: dict[str, Any], path: Path, p: _Progress, optimizer: Any,
                 scaler: Any, aug_gen: torch.Generator,
                 batches: AnyBatches) -> None:  # fmt: skip
        self.method.load_state_dict(ckpt["method_state"])
        optimizer.load_state_dict(ckpt["optimizer"]["state"])
        if ckpt.get("grad_scaler") and scaler.is_enabled():
            scaler.load_state_dict(ckpt["grad_scaler"])
        p.epoch, p.step = int(ckpt["epoch"]), int(ckpt["step"])
        p.batch_in_epoch = int(ckpt.get("batch_in_epoch", 0))
        p.history = list(ckpt.get("history", []))
        p.skipped = int(ckpt.get("skipped_batches", 0))
        if ckpt.get("ema"):
            p.tau = float(ckpt["ema"]["momentum"])
            self.method.momentum = p.tau
        if ckpt.get("epoch_progress"):
            ep = ckpt["epoch_progress"]
            p.sums, p.n_seen = dict(ep["sums"]), int(ep["n_seen"])
            p.n_steps, p.seconds = int(ep["n_steps"]), float(ep["seconds"])
            p.metrics.update(ep.get("metrics", {}))
        rng = ckpt["rng"]
        torch.set_rng_state(rng["torch"])
        if rng.get("cuda") and torch.cuda.is_available():
            with contextlib.suppress(RuntimeError, IndexError):
                torch.cuda.set_rng_state_all(rng["cuda"])
        aug_gen.set_state(rng["augment"])
        self._restore_rank_rng(rng.get("ranks"), aug_gen, path, p.step)
        p.epoch_rng = rng.get("batches_epoch_start")
        if p.epoch_rng is not None:
            batches.set_state(p.epoch_rng)
        p.last_ckpt = path

    def _restore_rank_rng(self, ranks: list[dict[str, Any]] | None, aug_gen: torch.Generator,
                          path: Path, step: int) -> None:  # fmt: skip
        """This rank's generators from a distributed checkpoint (rank 0's are the top-level
        ones). With a different number of processes, every rank but 0 starts a fresh
        augmentation stream (seeded by seed, rank and step) and rank 0 warns."""
        n = world_size()
        if ranks is not None and len(ranks) == n:
            mine = ranks[rank()]
            torch.set_rng_state(mine["torch"])
            if mine.get("cuda") is not None and torch.cuda.is_available():
                torch.cuda.set_rng_state(mine["cuda"])
            aug_gen.set_state(mine["augment"])
            return
        if ranks is None and n == 1:
            return
        if rank() > 0:
            aug_gen.manual_seed(_augment_seed(self.config.seed, rank()) + step)
        if is_main_process():
            written = len(ranks) if ranks else 1
            warnings.warn(
                f"{path} was written by {written} process(es), this run has {n}: the data "
                "order and weights continue exactly, the augmentation streams do not",
                RuntimeWarning, stacklevel=4,
            )  # fmt: skip

    def _resume_source(self, ckpt_dir: Path | None) -> tuple[Path, dict[str, Any]] | None:
        resume = self.config.resume
        if resume is None:
            return None
        if resume == "auto":
            assert ckpt_dir is not None  # checked by PretrainConfig
            # Rank 0 picks (and warns about unreadable files); every rank loads the same one.
            found = latest_valid_checkpoint(ckpt_dir) if is_main_process() else None
            chosen = broadcast_object(None if found is None else found[0])
            if chosen is None:
                return None
            return found if found is not None else (chosen, load_checkpoint(chosen))
        path = Path(resume)
        return path, load_checkpoint(path)

    def _step_fn(self, method: SSLMethod, device: torch.device, world: int) -> Any:
        """``method.training_step``, or in a distributed run the same step inside
        DistributedDataParallel (after the optional SyncBatchNorm conversion)."""
        if world == 1:
            return method.training_step
        if self.config.sync_batchnorm:
            if device.type == "cpu":
                raise InvalidValueError(
                    "sync_batchnorm=True needs GPUs: PyTorch's SyncBatchNorm has no CPU "
                    "implementation; turn it off for CPU (Gloo) runs"
                )
            nn.SyncBatchNorm.convert_sync_batchnorm(method)
        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(StepModule(method), device_ids=ids)

    # -- the loop -------------------------------------------------------------------------------
    def fit(
        self,
        data: TrainingData,
        fs: float | None = None,
        leads: list[str] | tuple[str, ...] | None = None,
    ) -> PretrainResult:
        """Pretrain on ``data``; with ``resume`` set, continue an interrupted run exactly.

        Args:
            data: An :class:`~ecgssl.data.base.ECGDataset` (its train split), a streamed set
                (:func:`ecgssl.data.stream_caches`) or signal cache, a (records, leads, time)
                float tensor or numpy array, or an iterable of batches (e.g. a DataLoader).
                Caches, streamed sets and memory-mapped datasets are read batch by batch as
                training goes (see ``PretrainConfig.stream``).
            fs: Sampling rate in Hz; required unless ``data`` is a dataset (then checked).
            leads: Dataset: the leads to train on, by name and in order. Tensor or loader: the
                names of its leads, stored in checkpoints and checked on resume.

        Raises:
            ValueError / TypeError: invalid data (the message names the problem).
            CheckpointMismatchError: the checkpoint to resume from does not fit this run.
            NonFiniteLossError: a NaN/Inf loss with ``nan_policy="raise"``.

        Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) the run is distributed:
        see :mod:`ecgssl.training.distributed`. Every rank returns the same trained method.
        """
        launch = detect_launch()
        device, owns_group = self.device, False
        if launch is not None:
            device, owns_group = setup(launch, device)
        encoder = self.method.encoder
        was_checkpointing = encoder.checkpointing
        if self.config.activation_checkpointing:  # the online encoder only; off again after
            encoder.set_checkpointing(True)
        try:
            return self._fit(data, fs, leads, device)
        finally:
            encoder.set_checkpointing(was_checkpointing)
            if owns_group:
                dist.destroy_process_group()

    def _fit(self, data: TrainingData, fs: float | None,
             leads: list[str] | tuple[str, ...] | None, device: torch.device) -> PretrainResult:  # fmt: skip
        cfg = self.config
        rk, world, main = rank(), world_size(), is_main_process()
        batches, self.signal = prepare_training_data(
            data,
            fs,
            leads,
            batch_size=cfg.batch_size,
            drop_last=cfg.drop_last,
            seed=cfg.seed,
            stream=cfg.stream,
        )
        if world > 1:
            shard_batches(batches, rk, world)
        fs = float(self.signal["fs"])
        steps_per_epoch = len(batches)
        if steps_per_epoch == 0:
            raise InvalidValueError("the training data yield no batches (empty loader?)")
        if device.type == "cpu" and cfg.tune_cpu_malloc:
            tune_cpu_allocator()
        method = self.method.to(device)
        step_fn = self._step_fn(method, device, world)
        if cfg.compile:
            step_fn = torch.compile(step_fn)
        optimizer = build_optimizer(method, method.online_parameters(), cfg)
        base_lrs = [g["lr"] for g in optimizer.param_groups]
        aug_gen = torch.Generator(device=device).manual_seed(_augment_seed(cfg.seed, rk))
        torch.manual_seed(cfg.seed)
        total = cfg.total_steps(steps_per_epoch)
        n_epochs = cfg.n_epochs(steps_per_epoch)
        warmup = cfg.n_warmup_steps(steps_per_epoch)
        lr_factor = warmup_cosine(total, warmup, cfg.min_lr_ratio)
        schedule = {"name": "warmup_cosine", "total_steps": total, "warmup_steps": warmup,
                    "min_lr_ratio": cfg.min_lr_ratio, "base_lrs": base_lrs}  # fmt: skip
        # Rank 0 decides (amp="auto" times the CPU) so that every rank runs the same precision.
        amp: AmpPlan = broadcast_object(resolve_amp(cfg.amp, device) if main else None)
        scaler = torch.amp.GradScaler("cuda", enabled=amp.needs_grad_scaler)

        p = _Progress(tau=method.momentum)
        ckpt_dir = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir is not None else None
        if ckpt_dir is not None and main:
            stale = remove_stale_temp_files(ckpt_dir)
            if stale:
                warnings.warn(
                    f"removed {len(stale)} partial checkpoint file(s) left by an interrupted "
                    f"save in {ckpt_dir}", RuntimeWarning, stacklevel=2,
                )  # fmt: skip
        resumed_from = None
        source = self._resume_source(ckpt_dir)
        if source is not None:
            path, ckpt = source
            self._check_resume(ckpt, path, steps_per_epoch, amp.label)
            self._restore(ckpt, path, p, optimizer, scaler, aug_gen, batches)
            resumed_from = path
        callbacks = self.callbacks
        run = RunState(
            method=method, config=cfg, device=device, signal=self.signal,
            steps_per_epoch=steps_per_epoch, total_steps=total, n_epochs=n_epochs, step=p.step,
            epoch=p.epoch, history=p.history, resumed_from=resumed_from, is_main=main,
            pending=p.metrics, callbacks=callbacks, precision=amp.label,
        )  # fmt: skip

        def save() -> None:
            assert ckpt_dir is not None
            check_replicas(method, f"at step {p.step}")
            state = self._state(p, optimizer, scaler, aug_gen, batches, schedule,
                                steps_per_epoch, amp)  # fmt: skip
            if not main:  # rank 0 writes; the others only took part in gathering the state
                p.last_ckpt = ckpt_dir / checkpoint_name(p.epoch, p.step)
                return
            try:
                p.last_ckpt = atomic_torch_save(state, ckpt_dir / checkpoint_name(p.epoch, p.step))
            except OSError as e:  # disk full, quota, permissions: keep training, keep old files
                warnings.warn(
                    f"could not write a checkpoint at step {p.step} ({e}); training continues "
                    f"and older checkpoints are kept (last good checkpoint: {p.last_ckpt})",
                    RuntimeWarning, stacklevel=3,
                )  # fmt: skip
                return
            prune_checkpoints(ckpt_dir, cfg.keep_last)
            callbacks.on_checkpoint(run, p.last_ckpt)

        every_steps = cfg.checkpoint_every_steps if ckpt_dir is not None else None
        checked = False
        probe: Tensor | None = None  # fixed records for the representation-health statistics
        warned_collapse = False
        callbacks.on_start(run)
        for epoch in range(p.epoch, n_epochs):
            method.train()
            batches.set_epoch(epoch)
            if p.batch_in_epoch == 0:
                p.epoch_rng = batches.get_state()
                p.sums, p.n_seen, p.n_steps, p.seconds = {}, 0, 0, 0.0
                p.metrics.clear()  # in place: run.pending is the same dict
            t0 = time.perf_counter()
            in_epoch = min(steps_per_epoch, total - epoch * steps_per_epoch)  # last: maybe cut
            bar = tqdm(batches.epoch(p.epoch_rng, skip=p.batch_in_epoch), total=in_epoch,
                       initial=p.batch_in_epoch, desc=f"{method.name} epoch {epoch + 1}/"
                       f"{n_epochs}", disable=not (cfg.progress and main), leave=False)  # fmt: skip
            for x, patient_ids in bar:
                if p.batch_in_epoch >= in_epoch:  # the step budget ends inside this epoch
                    break
                x = x.to(device, non_blocking=True)
                step_kwargs = (
                    {"patient_ids": patient_ids.to(device)}
                    if patient_ids is not None and method.uses_patient_ids
                    else {}
                )
                if probe is None and cfg.health_every:
                    probe = _health_probe(batches, x)
                if not checked:
                    self._check_contract(x, fs)
                    checked = True
                check_signal(x, name=f"batch at step {p.step}", n_leads=method.encoder.n_leads)
                for g, base_lr in zip(optimizer.param_groups, base_lrs):
                    g["lr"] = base_lr * lr_factor(p.step)
                with torch.no_grad():
                    v1, v2 = self.views(x, fs, aug_gen)
                self.signal.setdefault("window_samples", int(v1.shape[-1]))
                self.signal.setdefault("window_seconds", v1.shape[-1] / fs)
                with amp.autocast():  # forward passes only; losses upcast to float32
                    out = step_fn(v1, v2, **step_kwargs)
                loss = out["loss"]
                step_logs: dict[str, float] | None = None
                if all_ranks_true(bool(torch.isfinite(loss))):
                    optimizer.zero_grad(set_to_none=True)
                    scaler.scale(loss).backward()
                    if cfg.grad_clip:
                        scaler.unscale_(optimizer)
                        torch.nn.utils.clip_grad_norm_(method.online_parameters(), cfg.grad_clip)
                    scaler.step(optimizer)
                    scaler.update()
                    if method.uses_momentum:
                        p.tau = method.update_target((p.step + 1) / total)
                    p.n_seen += x.shape[0] * world
                    p.n_steps += 1
                    logged = mean_over_ranks({k: float(v.detach()) for k, v in out.items()})
                    for k, v in logged.items():
                        p.sums[k] = p.sums.get(k, 0.0) + v
                    step_logs = {
                        "step": p.step + 1, "epoch": epoch + 1, **logged,
                        "lr": optimizer.param_groups[0]["lr"],
                        "momentum": p.tau if method.uses_momentum else math.nan,
                    }  # fmt: skip
                    if cfg.progress and main:
                        bar.set_postfix(loss=f"{float(loss.detach()):.4f}",
                                        lr=f"{optimizer.param_groups[0]['lr']:.2e}")  # fmt: skip
                elif cfg.nan_policy == "skip":
                    p.skipped += 1
                    optimizer.zero_grad(set_to_none=True)
                else:
                    where = f"; last good checkpoint: {p.last_ckpt}" if p.last_ckpt else (
                        "; no checkpoint was written yet")  # fmt: skip
                    raise NonFiniteLossError(
                        f"non-finite loss ({loss.item()}) at epoch {epoch + 1}, step {p.step}"
                        f"{where}. Lower lr, enable grad_clip, or set nan_policy='skip'."
                    )
                p.step += 1
                p.batch_in_epoch += 1
                run.step = p.step
                if step_logs is not None:
                    t_hooks = time.perf_counter()
                    callbacks.on_step(run, step_logs)
                    t0 += time.perf_counter() - t_hooks  # hook time is not training time
                if every_steps and p.step % every_steps == 0 and p.batch_in_epoch < in_epoch:
                    now = time.perf_counter()
                    p.seconds, t0 = p.seconds + now - t0, now
                    save()
            p.seconds += time.perf_counter() - t0
            p.history.append({
                "epoch": epoch + 1,
                "step": p.step,
                **{k: v / max(p.n_steps, 1) for k, v in p.sums.items()},
                "lr": optimizer.param_groups[0]["lr"],
                "momentum": p.tau if method.uses_momentum else math.nan,
                "seconds": p.seconds,
                "samples_per_s": p.n_seen / p.seconds if p.seconds > 0 else math.nan,
            })  # fmt: skip
            if cfg.health_every and probe is not None and (epoch + 1) % cfg.health_every == 0:
                health = representation_health(method.encoder, probe.to(device))
                p.history[-1].update({f"health/{k}": v for k, v in health.items()})
                if is_collapsed(health) and not warned_collapse and main:
                    warned_collapse = True
                    warnings.warn(
                        f"the representation of {method.name} looks collapsed after epoch "
                        f"{epoch + 1} ({', '.join(f'{k}={v:.3g}' for k, v in health.items())}); "
                        "lower lr, raise the EMA momentum or check the augmentations",
                        RuntimeWarning, stacklevel=2,
                    )  # fmt: skip
            p.history[-1].update(p.metrics)
            p.epoch, p.batch_in_epoch = epoch + 1, 0
            run.epoch = p.epoch
            callbacks.on_epoch(run, p.history[-1])
            due = p.epoch % cfg.checkpoint_every == 0 or p.epoch == n_epochs
            if ckpt_dir is not None and (due or (every_steps and p.step % every_steps == 0)):
                save()

        check_replicas(method, "at the end of training")
        method.eval()
        callbacks.on_end(run, p.history)
        return PretrainResult(
            encoder=method.encoder, method=method, history=p.history, checkpoint_path=p.last_ckpt,
            config=cfg, signal=dict(self.signal), skipped_batches=p.skipped,
            resumed_from=resumed_from, metadata=dict(self.metadata), precision=amp.label,
        )  # fmt: skip


def _augment_seed(seed: int, rank: int) -> int:
    """Seed of a rank's augmentation generator: ``seed + 1`` on rank 0 (as in a one-process
    run), a distinct stream on every other rank so that ranks do not repeat each other's
    augmentation draws on their shards."""
    return (seed + 1 + 1_000_003 * rank) % 2**63


def _health_probe(batches: AnyBatches, first: Tensor, n: int = 64) -> Tensor:
    """The records on which health statistics are computed every epoch: the first ``n``
    training records of an in-memory or streamed set, else the first batch seen."""
    if isinstance(batches, TensorBatches):
        x = batches.signals[:n]
    elif isinstance(batches, StreamBatches):
        x = batches.probe(n)
    else:
        x = first[:n]
    return x.detach().clone()
