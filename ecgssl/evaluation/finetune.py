"""Fine-tuning protocol: encoder + linear head trained on labels, with early stopping.

The same code trains a *supervised-from-scratch* baseline (a randomly initialised encoder,
``encoder_lr_ratio=1``), so that pretrained and from-scratch encoders differ only in their
starting weights.
"""

from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ecgssl.device import resolve_device
from ecgssl.encoders.base import Encoder
from ecgssl.errors import InvalidValueError
from ecgssl.evaluation.embed import embed
from ecgssl.evaluation.linear import LinearProbe
from ecgssl.evaluation.metrics import macro_auroc_or_nan
from ecgssl.precision import AmpPlan, check_amp, resolve_amp
from ecgssl.training.allocator import tune_cpu_allocator

__all__ = ["HEAD_INITS", "FinetuneConfig", "FinetuneResult", "finetune"]

#: How :func:`finetune` may start its linear head (``FinetuneConfig.head_init``).
HEAD_INITS = ("random", "probe")


@dataclass
class FinetuneConfig:
    """Settings of :func:`finetune`.

    Attributes:
        epochs: Maximum passes over the labeled training records.
        batch_size: Records per step (capped at the number of training records).
        lr: Learning rate of the linear head (AdamW).
        encoder_lr_ratio: Encoder learning rate as a fraction of ``lr`` (0.1 for fine-tuning a
            pretrained encoder, 1.0 when training from scratch, 0 to freeze it).
        weight_decay: AdamW weight decay.
        patience: Stop after this many epochs without a better validation macro AUROC (or,
            where it is undefined on the validation split, a lower validation loss; never
            the training loss); the best epoch's weights are restored.
        seed: Seed of the head's initialisation and the batch order.
        head_init: ``"random"`` (default) starts the head from PyTorch's initialisation;
            ``"probe"`` first fits a :class:`~ecgssl.evaluation.LinearProbe` on the frozen
            encoder's embeddings of the training records (its ``C`` chosen on the
            validation split) and starts the head from it: linear probing, then
            fine-tuning (LP-FT, Kumar et al., ICLR 2022), so that the first steps do not
            push a random head's gradients into the pretrained features.
        freeze_batchnorm: Keep the encoder's BatchNorm layers in evaluation mode while
            fine-tuning: their running statistics stay the pretrained ones and every batch
            is normalised with them (the affine weights still train). Small labeled sets
            give noisy batch statistics; with ``head_init="probe"`` it also keeps the
            features the probe was fitted on. Leave it off for an untrained encoder, whose
            running statistics are the initial mean 0 and variance 1.
        amp: Mixed precision of the forward passes (:func:`ecgssl.precision.resolve_amp`):
            ``"auto"`` uses autocast on CUDA and on CPUs with fast bfloat16 (AVX-512
            BF16/AMX, checked by timing), ``True`` forces it, ``False`` keeps float32. The
            weights, optimiser state and loss stay float32.
    """

    epochs: int = 40
    batch_size: int = 64
    lr: float = 1e-3
    encoder_lr_ratio: float = 0.1
    weight_decay: float = 1e-4
    patience: int = 8
    seed: int = 0
    amp: bool | str = "auto"
    head_init: str = "random"
    freeze_batchnorm: bool = False

    def __post_init__(self) -> None:
        check_amp(self.amp)
        if self.head_init not in HEAD_INITS:
            raise InvalidValueError(
                f"head_init must be one of {HEAD_INITS}, got {self.head_init!r}"
            )
        for name in ("epochs", "batch_size", "patience"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InvalidValueError(f"{name} must be an integer >= 1, got {v!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise InvalidValueError(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.encoder_lr_ratio <= 1:
            raise InvalidValueError(
                f"encoder_lr_ratio must be in [0, 1], got {self.encoder_lr_ratio}"
            )
        if self.weight_decay < 0:
            raise InvalidValueError(f"weight_decay must be >= 0, got {self.weight_decay}")


@dataclass
class FinetuneResult:
    """A fine-tuned model and how training went.

    Attributes:
        encoder: The fine-tuned copy of the encoder (the input encoder is left untouched).
        head: The linear classification head.
        best_epoch: Epoch (1-based) whose weights were kept (0: none improved on the
            initial weights, which are kept; with ``head_init="probe"`` that is the linear
            probe, whose validation AUROC is then ``val_macro_auroc``).
        val_macro_auroc: Validation macro AUROC at ``best_epoch``.
        history: Per-epoch training loss, validation macro AUROC and validation loss.
        precision: Precision of the training forward passes: ``"bf16"``, ``"fp16"``
            (autocast, see ``FinetuneConfig.amp``) or ``"fp32"``.
    """

    encoder: Encoder
    head: nn.Linear
    best_epoch: int
    val_macro_auroc: float
    history: list[dict[str, float]]
    precision: str = "fp32"

    @torch.no_grad()
    def scores(self, x: np.ndarray | Tensor, batch_size: int = 256) -> np.ndarray:
        """Logits (records, classes) of whole records, in float32 (no autocast)."""
        return _scores(self.encoder, self.head, x, batch_size)


@torch.no_grad()
def _scores(
    encoder: Encoder,
    head: nn.Module,
    x: np.ndarray | Tensor,
    batch_size: int,
    amp: AmpPlan | None = None,
) -> np.ndarray:
    encoder.eval()
    head.eval()
    dev = next(head.parameters()).device
    xt = torch.as_tensor(x, dtype=torch.float32)
    outs = []
    for s in range(0, xt.shape[0], batch_size):
        with amp.autocast() if amp is not None else contextlib.nullcontext():
            outs.append(head(encoder(xt[s : s + batch_size].to(dev))).float().cpu())
    return torch.cat(outs).numpy()


def _loss(logits: Tensor, y: Tensor, multilabel: bool) -> Tensor:
    if multilabel:
        return F.binary_cross_entropy_with_logits(logits, y)
    return F.cross_entropy(logits, y.argmax(dim=1))


def _init_head_from_probe(
    head: nn.Linear,
    model: Encoder,
    x_tr: Tensor,
    y_tr: Tensor,
    val: tuple[np.ndarray, np.ndarray],
    dev: torch.device,
) -> float:
    """Set ``head`` to a linear probe fitted on ``model``'s frozen embeddings (LP-FT); return
    the probe's validation macro AUROC (NaN where undefined)."""
    z_tr = embed(model, x_tr.numpy(), device=dev)
    z_val = embed(model, np.asarray(val[0], dtype=np.float32), device=dev)
    probe = LinearProbe().fit(z_tr, y_tr.numpy(), z_val, np.asarray(val[1]))
    weight, bias = probe.linear_weights(head.out_features)
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(weight, dtype=head.weight.dtype))
        head.bias.copy_(torch.as_tensor(bias, dtype=head.bias.dtype))
    return probe.val_macro_auroc


def finetune(
    encoder: Encoder,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    multilabel: bool = True,
    config: FinetuneConfig | None = None,
    device: str | torch.device = "auto",
) -> FinetuneResult:
    """Train a copy of ``encoder`` and a linear head on ``train``, early-stopped on ``val``.

    Args:
        encoder: Pretrained (or randomly initialised) encoder; it is copied, not modified.
        train: ``(signals (records, leads, time), multi-hot labels (records, classes))``.
        val: Validation split in the same form, used for early stopping.
        multilabel: Binary cross-entropy per class (True) or softmax cross-entropy (False).
        config: Optimisation settings.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.

    Returns:
        A :class:`FinetuneResult`.
    """
    cfg = config or FinetuneConfig()
    dev = resolve_device(device)
    if dev.type == "cpu":
        tune_cpu_allocator()  # large CPU tensors reuse freed memory: no page-fault storm
    amp = resolve_amp(cfg.amp, dev)
    scaler = torch.amp.GradScaler("cuda", enabled=amp.needs_grad_scaler)
    x_tr = torch.as_tensor(train[0], dtype=torch.float32)
    y_tr = torch.as_tensor(np.asarray(train[1]), dtype=torch.float32)
    if x_tr.shape[0] != y_tr.shape[0] or x_tr.shape[0] == 0:
        raise InvalidValueError(f"{x_tr.shape[0]} training records for {y_tr.shape[0]} label rows")
    y_val = np.asarray(val[1], dtype=np.float32)
    if len(y_val) == 0 or len(y_val) != len(val[0]):
        raise InvalidValueError(
            f"early stopping needs a validation split: got {len(val[0])} validation records "
            f"for {len(y_val)} label rows"
        )
    torch.manual_seed(cfg.seed)
    model = copy.deepcopy(encoder).to(dev)
    head = nn.Linear(model.output_dim, y_tr.shape[1]).to(dev)
    groups = [{"params": list(head.parameters()), "lr": cfg.lr}]
    if cfg.encoder_lr_ratio > 0:
        groups.append({"params": list(model.parameters()), "lr": cfg.lr * cfg.encoder_lr_ratio})
    else:
        model.requires_grad_(False)
    opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    n = x_tr.shape[0]
    bs = min(cfg.batch_size, n)
    start_auc = math.nan
    if cfg.head_init == "probe":  # the probe itself is a candidate: LP-FT never trails LP on val
        start_auc = _init_head_from_probe(head, model, x_tr, y_tr, val, dev)
    best = (start_auc if math.isfinite(start_auc) else -math.inf, 0,
            copy.deepcopy(model.state_dict()), copy.deepcopy(head.state_dict()))  # fmt: skip
    history: list[dict[str, float]] = []
    stale = 0
    for epoch in range(1, cfg.epochs + 1):
        model.train(cfg.encoder_lr_ratio > 0)
        if cfg.freeze_batchnorm:
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        head.train()
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        # Batches of one record cannot train BatchNorm: drop a trailing singleton.
        for s in range(0, n - (1 if n % bs == 1 and n > 1 else 0), bs):
            idx = perm[s : s + bs]
            xb, yb = x_tr[idx].to(dev), y_tr[idx].to(dev)
            with amp.autocast():  # the forward pass only; the loss is float32
                logits = head(model(xb))
            loss = _loss(logits.float(), yb, multilabel)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            total += float(loss.detach()) * idx.numel()
        val_scores = _scores(model, head, val[0], 256, amp)
        auc = macro_auroc_or_nan(y_val, val_scores)
        val_loss = float(_loss(torch.from_numpy(val_scores), torch.from_numpy(y_val), multilabel))
        history.append({"epoch": epoch, "loss": total / n, "val_macro_auroc": auc,
                        "val_loss": val_loss})  # fmt: skip
        # Early stopping only ever looks at validation: its macro AUROC, or its loss when
        # the AUROC is undefined there (no class with positives and negatives).
        score = auc if math.isfinite(auc) else -val_loss
        if math.isfinite(score) and score > best[0]:
            best = (
                score,
                epoch,
                copy.deepcopy(model.state_dict()),
                copy.deepcopy(head.state_dict()),
            )
            stale = 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    model.load_state_dict(best[2])
    head.load_state_dict(best[3])
    model.eval()
    return FinetuneResult(
        encoder=model,
        head=head,
        best_epoch=best[1],
        val_macro_auroc=history[best[1] - 1]["val_macro_auroc"] if best[1] else start_auc,
        history=history,
        precision=amp.label,
    )
