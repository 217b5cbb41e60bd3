"""Optimisers (AdamW, LARS) and the warm-up + cosine learning-rate schedule."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from ecgssl.errors import InvalidValueError
from ecgssl.training.config import PretrainConfig

__all__ = ["LARS", "build_optimizer", "param_groups", "warmup_cosine"]


class LARS(Optimizer):
    """SGD with momentum and layer-wise adaptive rate scaling (You et al., 2017).

    Each parameter's update is scaled by the trust ratio ``eta * ||w|| / ||g + wd * w||``.
    Parameter groups with ``lars_exclude=True`` (biases, norms) skip the scaling and weight
    decay, as in SimCLR/BYOL.

    Args:
        params: Parameters or parameter groups.
        lr: Learning rate.
        momentum: Momentum factor.
        weight_decay: L2 penalty added to the gradient.
        eta: Trust coefficient.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        eta: float = 0.001,
    ) -> None:
        if lr <= 0:
            raise InvalidValueError(f"lr must be > 0, got {lr}")
        defaults = {
            "lr": lr, "momentum": momentum, "weight_decay": weight_decay, "eta": eta,
            "lars_exclude": False,
        }  # fmt: skip
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if not group["lars_exclude"]:
                    if group["weight_decay"]:
                        g = g.add(p, alpha=group["weight_decay"])
                    w_norm, g_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(g)
                    trust = torch.where(
                        (w_norm > 0) & (g_norm > 0),
                        group["eta"] * w_norm / g_norm,
                        torch.ones_like(w_norm),
                    )
                    g = g.mul(trust)
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = torch.clone(g).detach()
                else:
                    buf.mul_(group["momentum"]).add_(g)
                p.add_(buf, alpha=-group["lr"])
        return loss


def param_groups(model: nn.Module, params: list[nn.Parameter], weight_decay: float) -> list[dict]:
    """Split ``params`` into decayed weights and non-decayed biases/norm parameters."""
    chosen = {id(p) for p in params}
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if id(p) not in chosen:
                continue
            is_norm = isinstance(
                module, (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
            )
            (no_decay if is_norm or name == "bias" or p.ndim <= 1 else decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0, "lars_exclude": True},
    ]


def build_optimizer(model: nn.Module, params: list[nn.Parameter], cfg: PretrainConfig) -> Optimizer:
    """Build the optimiser named in ``cfg`` over ``params`` of ``model``."""
    groups = param_groups(model, params, cfg.weight_decay)
    if cfg.optimizer == "lars":
        return LARS(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    for g in groups:
        g.pop("lars_exclude", None)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr)
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)


def warmup_cosine(total_steps: int, warmup_steps: int, min_ratio: float) -> Callable[[int], float]:
    """LR multiplier of (0-based) ``step``: linear warm-up that reaches 1 at step
    ``warmup_steps - 1``, then cosine decay that reaches ``min_ratio`` at the last step,
    ``total_steps - 1``."""

    def factor(step: int) -> float:
        if warmup_steps > 0 and step < warmup_steps:
            return (step + 1) / warmup_steps
        span = total_steps - 1 - warmup_steps
        if span <= 0:  # only the last step follows the warm-up
            return min_ratio
        progress = min(1.0, (step - warmup_steps) / span)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor
