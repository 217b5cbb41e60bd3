"""The shared training loop: every SSL method is fitted by the same code."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from ecgssl import __version__
from ecgssl.augment.base import AugSpec, TwoViews
from ecgssl.augment.policies import ssl_policy
from ecgssl.data.base import ECGDataset
from ecgssl.device import resolve_device
from ecgssl.encoders.base import Encoder
from ecgssl.methods.base import SSLMethod
from ecgssl.training.checkpoint import (
    CHECKPOINT_FORMAT,
    atomic_torch_save,
    checkpoint_name,
    latest_valid_checkpoint,
    load_checkpoint,
    prune_checkpoints,
)
from ecgssl.training.config import PretrainConfig
from ecgssl.training.optim import build_optimizer, warmup_cosine
from ecgssl.validation import check_signal

__all__ = ["NonFiniteLossError", "PretrainResult", "Pretrainer"]


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN/Inf loss."""


@dataclass
class PretrainResult:
    """What :meth:`Pretrainer.fit` returns.

    Attributes:
        encoder: The pretrained online encoder (eval mode).
        method: The fitted method (heads and targets included).
        history: One dict per epoch: epoch, loss, lr, momentum, seconds, samples_per_s, and
            any extra terms the method logs (e.g. BELL's intra/inter).
        checkpoint_path: The last checkpoint written, or ``None``.
        config: The training configuration.
        signal: The signal contract of the training data (fs, leads, window length).
        skipped_batches: Batches dropped because of a non-finite loss (``nan_policy="skip"``).
    """

    encoder: Encoder
    method: SSLMethod
    history: list[dict[str, float]]
    checkpoint_path: Path | None
    config: PretrainConfig
    signal: dict[str, Any] = field(default_factory=dict)
    skipped_batches: int = 0

    @property
    def final_loss(self) -> float:
        return self.history[-1]["loss"] if self.history else math.nan


class _TensorBatches:
    """Shuffled mini-batches of an in-memory (records, leads, time) tensor."""

    def __init__(self, signals: Tensor, batch_size: int, drop_last: bool, seed: int) -> None:
        self.signals = signals
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = self.signals.shape[0]
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Tensor]:
        perm = torch.randperm(self.signals.shape[0], generator=self.generator)
        for k in range(len(self)):
            yield self.signals[perm[k * self.batch_size : (k + 1) * self.batch_size]]


class Pretrainer:
    """Fits an :class:`~ecgssl.methods.base.SSLMethod` with AdamW/LARS, warm-up + cosine LR,
    EMA target updates every step, gradient clipping, AMP on CUDA and atomic checkpoints.

    Args:
        method: The SSL method (holding its encoder).
        augmentation: View pipeline: a :class:`TwoViews`, an augmentation (used for both
            views), a name/spec/list, or ``None`` for :func:`ecgssl.augment.ssl_policy`.
        config: Training settings; keyword overrides are applied on top.
        metadata: Extra JSON-like facts stored in checkpoints (dataset, preprocessing...).
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
        **overrides: Any,
    ) -> None:
        if not isinstance(method, SSLMethod):
            raise TypeError(f"method must be an SSLMethod, got {type(method).__name__}")
        unknown = set(overrides) - PretrainConfig.field_names()
        if unknown:
            raise TypeError(
                f"unknown Pretrainer option(s) {sorted(unknown)}; valid: "
                f"{sorted(PretrainConfig.field_names())}"
            )
        base = (config or PretrainConfig()).to_dict()
        self.config = PretrainConfig(**{**base, **overrides})
        self.method = method
        if augmentation is None:
            augmentation = ssl_policy()
        self.views = augmentation if isinstance(augmentation, TwoViews) else TwoViews(augmentation)
        self.metadata = dict(metadata or {})
        self.device = resolve_device(self.config.device)

    # -- data ------------------------------------------------------------------------------
    def _batches(self, data: Any, fs: float | None) -> tuple[Iterable[Tensor], float, dict]:
        cfg = self.config
        if isinstance(data, ECGDataset):
            ds = data.subset("train") if data.split is not None else data
            signal = {"fs": float(ds.fs), "leads": list(ds.leads), "record_length": ds.length}
            signals = torch.from_numpy(ds.signals).float()
            check_signal(signals, name=f"dataset {ds.name!r}")
            fs = float(ds.fs)
            data = signals
        elif isinstance(data, Tensor):
            if fs is None:
                raise ValueError("fs (sampling rate in Hz) is required when fitting on a tensor")
            check_signal(data, name="training signals")
            signal = {"fs": float(fs), "leads": None, "record_length": int(data.shape[-1])}
        else:
            if fs is None:
                raise ValueError(
                    "fs (sampling rate in Hz) is required when fitting on a DataLoader"
                )
            return _first_tensor(data), float(fs), {"fs": float(fs), "leads": None}
        n = data.shape[0]
        if cfg.drop_last and n < cfg.batch_size:
            raise ValueError(
                f"batch_size={cfg.batch_size} is larger than the {n} training records; "
                "lower batch_size or set drop_last=False"
            )
        return _TensorBatches(data, cfg.batch_size, cfg.drop_last, cfg.seed), fs, signal

    def _check_contract(self, x: Tensor, fs: float) -> None:
        enc = self.method.encoder
        if x.shape[1] != enc.n_leads:
            raise ValueError(
                f"the data have {x.shape[1]} leads but the encoder expects {enc.n_leads}"
            )
        need = self.views.min_length(fs)
        if x.shape[-1] < need:
            raise ValueError(
                f"records have {x.shape[-1]} samples ({x.shape[-1] / fs:.2f} s at {fs:g} Hz) but "
                f"the augmentation pipeline needs at least {need} ({need / fs:.2f} s)"
            )

    # -- checkpoints --------------------------------------------------------------------------
    def _state(self, epoch: int, step: int, history: list, optimizer: Any, aug_gen: Any,
               batches: Any, signal: dict) -> dict[str, Any]:  # fmt: skip
        m = self.method
        return {
            "format": CHECKPOINT_FORMAT,
            "ecgssl_version": __version__,
            "method": {"name": m.name, "hparams": m.hparams},
            "encoder": m.encoder.config,
            "signal": signal,
            "metadata": self.metadata,
            "config": self.config.to_dict(),
            "epoch": epoch,
            "step": step,
            "history": history,
            "method_state": m.state_dict(),
            "optimizer_state": optimizer.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "augment": aug_gen.get_state(),
                "batches": batches.generator.get_state() if hasattr(batches, "generator") else None,
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            },
        }

    def _check_compatible(self, ckpt: dict[str, Any], signal: dict[str, Any], path: Path) -> None:
        m = self.method
        mine = {"method": m.name, "encoder": m.encoder.config}
        theirs = {"method": ckpt["method"]["name"], "encoder": ckpt["encoder"]}
        for key in mine:
            if mine[key] != theirs[key]:
                raise ValueError(
                    f"cannot resume from {path}: its {key} is {theirs[key]!r}, "
                    f"this run's is {mine[key]!r}"
                )
        for key in ("fs", "leads"):
            a, b = ckpt["signal"].get(key), signal.get(key)
            if a is not None and b is not None and a != b:
                raise ValueError(
                    f"cannot resume from {path}: checkpoint {key} {a!r} != data {key} {b!r}"
                )

    # -- the loop -------------------------------------------------------------------------------
    def fit(
        self, data: ECGDataset | Tensor | Iterable[Any], fs: float | None = None
    ) -> PretrainResult:
        """Pretrain on ``data``: an :class:`ECGDataset` (its train split), a (records, leads,
        time) tensor, or an iterable of batches (e.g. a DataLoader; give ``fs``).
        """
        cfg = self.config
        device = self.device
        batches, fs, signal = self._batches(data, fs)
        method = self.method.to(device)
        optimizer = build_optimizer(method, method.online_parameters(), cfg)
        base_lrs = [g["lr"] for g in optimizer.param_groups]
        aug_gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)
        torch.manual_seed(cfg.seed)
        steps_per_epoch = len(batches)  # type: ignore[arg-type]
        if steps_per_epoch == 0:
            raise ValueError("the training data yield no batches")
        total = steps_per_epoch * cfg.epochs
        lr_factor = warmup_cosine(
            total, round(cfg.warmup_epochs * steps_per_epoch), cfg.min_lr_ratio
        )
        use_amp = device.type == "cuda" and cfg.amp in (True, "auto")
        amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
        scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

        history: list[dict[str, float]] = []
        start_epoch, step, skipped = 0, 0, 0
        last_ckpt: Path | None = None
        ckpt_dir = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir is not None else None
        resume_from = self._resume_source(ckpt_dir)
        if resume_from is not None:
            path, ckpt = resume_from
            self._check_compatible(ckpt, signal, path)
            method.load_state_dict(ckpt["method_state"])
            optimizer.load_state_dict(ckpt["optimizer_state"])
            start_epoch, step, history = ckpt["epoch"], ckpt["step"], list(ckpt["history"])
            torch.set_rng_state(ckpt["rng"]["torch"])
            aug_gen.set_state(ckpt["rng"]["augment"])
            if ckpt["rng"]["batches"] is not None and hasattr(batches, "generator"):
                batches.generator.set_state(ckpt["rng"]["batches"])
            last_ckpt = path

        checked = False
        tau = method.momentum
        for epoch in range(start_epoch, cfg.epochs):
            method.train()
            t0 = time.perf_counter()
            sums: dict[str, float] = {}
            n_seen, n_steps = 0, 0
            bar = tqdm(batches, total=steps_per_epoch, desc=f"{method.name} epoch {epoch + 1}/"
                       f"{cfg.epochs}", disable=not cfg.progress, leave=False)  # fmt: skip
            for x in bar:
                x = x.to(device, non_blocking=True)
                if not checked:
                    self._check_contract(x, fs)
                    checked = True
                check_signal(x, name=f"batch at step {step}", n_leads=method.encoder.n_leads)
                for g, base_lr in zip(optimizer.param_groups, base_lrs):
                    g["lr"] = base_lr * lr_factor(step)
                with torch.no_grad():
                    v1, v2 = self.views(x, fs, aug_gen)
                autocast = (
                    torch.autocast("cuda", dtype=amp_dtype) if use_amp else contextlib.nullcontext()
                )
                with autocast:
                    out = method.training_step(v1, v2)
                loss = out["loss"]
                if not torch.isfinite(loss):
                    if cfg.nan_policy == "skip":
                        skipped += 1
                        optimizer.zero_grad(set_to_none=True)
                        step += 1
                        continue
                    where = f"; last good checkpoint: {last_ckpt}" if last_ckpt else ""
                    raise NonFiniteLossError(
                        f"non-finite loss ({loss.item()}) at epoch {epoch + 1}, step {step}{where}. "
                        "Lower lr, enable grad_clip, or set nan_policy='skip'."
                    )
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if cfg.grad_clip:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(method.online_parameters(), cfg.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                step += 1
                if method.uses_momentum:
                    tau = method.update_target(step / total)
                n_seen += x.shape[0]
                n_steps += 1
                for k, v in out.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach())
                if cfg.progress:
                    bar.set_postfix(
                        loss=f"{float(loss):.4f}", lr=f"{optimizer.param_groups[0]['lr']:.2e}"
                    )
            seconds = time.perf_counter() - t0
            record = {
                "epoch": epoch + 1,
                **{k: v / max(n_steps, 1) for k, v in sums.items()},
                "lr": optimizer.param_groups[0]["lr"],
                "momentum": tau if method.uses_momentum else math.nan,
                "seconds": seconds,
                "samples_per_s": n_seen / seconds if seconds > 0 else math.nan,
            }
            history.append(record)
            if ckpt_dir is not None and (
                (epoch + 1) % cfg.checkpoint_every == 0 or epoch + 1 == cfg.epochs
            ):
                state = self._state(epoch + 1, step, history, optimizer, aug_gen, batches, signal)
                last_ckpt = atomic_torch_save(state, ckpt_dir / checkpoint_name(epoch + 1))
                prune_checkpoints(ckpt_dir, cfg.keep_last)

        method.eval()
        return PretrainResult(
            encoder=method.encoder, method=method, history=history, checkpoint_path=last_ckpt,
            config=cfg, signal=signal, skipped_batches=skipped,
        )  # fmt: skip

    def _resume_source(self, ckpt_dir: Path | None) -> tuple[Path, dict[str, Any]] | None:
        resume = self.config.resume
        if resume is None:
            return None
        if resume == "auto":
            assert ckpt_dir is not None  # checked by PretrainConfig
            return latest_valid_checkpoint(ckpt_dir)
        path = Path(resume)
        return path, load_checkpoint(path)


def _first_tensor(loader: Iterable[Any]) -> Iterable[Tensor]:
    """Adapt a loader yielding tensors or (tensor, ...) tuples to one yielding tensors."""

    class _Adapter:
        def __len__(self) -> int:
            return len(loader)  # type: ignore[arg-type]

        def __iter__(self) -> Iterator[Tensor]:
            for batch in loader:
                x = batch[0] if isinstance(batch, (tuple, list)) else batch
                if not isinstance(x, Tensor):
                    raise TypeError(f"batches must be tensors, got {type(x).__name__}")
                yield x

    return _Adapter()
