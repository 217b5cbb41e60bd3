"""Base class for SSL methods: online network, EMA target pairs, momentum schedule.

A method file only declares its heads (in ``__init__``) and its loss (in
:meth:`SSLMethod.training_step`); this base class owns the boilerplate, following the
design of solo-learn's ``BaseMomentumMethod``:

- ``self.encoder`` is the online encoder whose weights the user keeps;
- :meth:`add_momentum_pair` creates a frozen EMA copy of an online module (the target);
- :meth:`update_target` moves every target towards its online module with momentum tau,
  following a cosine schedule from ``base_momentum`` to ``final_momentum`` (BYOL) or a
  constant momentum.
"""

from __future__ import annotations

import copy
import math
from typing import Any, ClassVar, TypeVar

import torch
from torch import Tensor, nn

from ecgssl.encoders.base import Encoder
from ecgssl.errors import InvalidTypeError, InvalidValueError
from ecgssl.validation import check_in_range

__all__ = ["SSLMethod", "cosine_momentum"]

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def cosine_momentum(base: float, final: float, progress: float) -> float:
    """BYOL's momentum schedule: ``final - (final - base) * (cos(pi * progress) + 1) / 2``.

    Args:
        base: Momentum at the start of training.
        final: Momentum at the end of training.
        progress: Fraction of training done, in [0, 1].
    """
    progress = min(max(progress, 0.0), 1.0)
    return final - (final - base) * (math.cos(math.pi * progress) + 1) / 2


class SSLMethod(nn.Module):
    """A self-supervised method: online encoder + heads (+ EMA targets) + loss.

    Subclasses call ``super().__init__(encoder, ...)``, build their heads, create targets
    with :meth:`add_momentum_pair` when they bootstrap, and implement :meth:`training_step`.

    Args:
        encoder: The online encoder to pretrain.
        base_momentum: EMA momentum at the start of training (methods with targets).
        final_momentum: EMA momentum at the end of training.
        momentum_schedule: ``"cosine"`` (BYOL) or ``"constant"`` (``base_momentum`` throughout).

    Attributes:
        name: Registry name of the method.
        requires_multibranch: Whether the method needs per-lead latents.
        uses_patient_ids: Whether :meth:`training_step` takes an optional ``patient_ids``
            keyword (a (batch,) tensor) and uses it, e.g. CLOCS' same-patient positives. A
            training loop that knows the batch's patient ids passes them only to such methods.
    """

    name: ClassVar[str] = ""
    requires_multibranch: ClassVar[bool] = False
    uses_patient_ids: ClassVar[bool] = False

    def __init__(
        self,
        encoder: Encoder,
        base_momentum: float = 0.996,
        final_momentum: float = 1.0,
        momentum_schedule: str = "cosine",
    ) -> None:
        super().__init__()
        if not isinstance(encoder, Encoder):
            raise InvalidTypeError(
                f"encoder must be an ecgssl Encoder, got {type(encoder).__name__}"
            )
        if self.requires_multibranch and not encoder.is_multibranch:
            raise InvalidValueError(
                f"method {self.name!r} needs a multi-branch encoder with per-lead latents, got "
                f"{encoder.config.get('name', type(encoder).__name__)!r}; use "
                "encoder='multibranch', or your own model returning (batch, leads, D) wrapped "
                "with ecgssl.wrap_model(..., per_lead=True)"
            )
        check_in_range(base_momentum, "base_momentum", 0.0, 1.0)
        check_in_range(final_momentum, "final_momentum", 0.0, 1.0)
        if final_momentum < base_momentum:
            raise InvalidValueError(
                f"final_momentum ({final_momentum}) must be >= base_momentum ({base_momentum})"
            )
        if momentum_schedule not in ("cosine", "constant"):
            raise InvalidValueError(
                f"momentum_schedule must be 'cosine' or 'constant', got {momentum_schedule!r}"
            )
        self.encoder = encoder
        self.base_momentum = base_momentum
        self.final_momentum = final_momentum
        self.momentum_schedule = momentum_schedule
        self.momentum = base_momentum
        self._online: list[nn.Module] = []
        self.targets = nn.ModuleList()
        self._hparams: dict[str, Any] = {
            "base_momentum": base_momentum,
            "final_momentum": final_momentum,
            "momentum_schedule": momentum_schedule,
        }

    # -- configuration -----------------------------------------------------------------
    def _remember(self, **hparams: Any) -> None:
        """Record the method's own hyperparameters for checkpoints and reports."""
        self._hparams.update(hparams)

    def _forget_momentum(self) -> None:
        """Drop the momentum hyperparameters from :attr:`hparams` (methods without a target)."""
        for key in ("base_momentum", "final_momentum", "momentum_schedule"):
            self._hparams.pop(key, None)

    @property
    def hparams(self) -> dict[str, Any]:
        """Method hyperparameters (JSON-serialisable), enough to rebuild the method."""
        return dict(self._hparams)

    @property
    def uses_momentum(self) -> bool:
        """Whether the method keeps EMA targets."""
        return len(self.targets) > 0

    @classmethod
    def default_encoder(cls, **hparams: Any) -> dict[str, Any]:
        """Encoder spec ``ecgssl.pretrain`` builds when none is given.

        Every built-in method defaults to the same multi-branch encoder so that methods
        are compared on the same architecture and parameter budget.
        """
        return {"name": "multibranch"}

    # -- EMA targets ---------------------------------------------------------------------
    def add_momentum_pair(self, online: ModuleT) -> ModuleT:
        """Create and register a frozen EMA copy of ``online``; return the copy."""
        target = copy.deepcopy(online)
        for p in target.parameters():
            p.requires_grad_(False)
        self._online.append(online)
        self.targets.append(target)
        return target

    def momentum_at(self, progress: float) -> float:
        """The EMA momentum at a training progress in [0, 1]."""
        if self.momentum_schedule == "constant":
            return self.base_momentum
        return cosine_momentum(self.base_momentum, self.final_momentum, progress)

    @torch.no_grad()
    def update_target(self, progress: float) -> float:
        """EMA step ``target = tau * target + (1 - tau) * online`` for every pair.

        Buffers (BatchNorm running statistics) are copied from the online module.

        Args:
            progress: Fraction of training done, in [0, 1], for the momentum schedule.

        Returns:
            The momentum tau used.
        """
        tau = self.momentum_at(progress)
        self.momentum = tau
        for online, target in zip(self._online, self.targets):
            t_params: list[Tensor] = list(target.parameters())
            o_params: list[Tensor] = [p.detach() for p in online.parameters()]
            if t_params:
                torch._foreach_mul_(t_params, tau)
                torch._foreach_add_(t_params, o_params, alpha=1.0 - tau)
            for tb, ob in zip(target.buffers(), online.buffers()):
                tb.copy_(ob)
        return tau

    # -- the method's job ------------------------------------------------------------------
    def training_step(self, view1: Tensor, view2: Tensor) -> dict[str, Tensor]:
        """Compute the loss for two augmented views (batch, leads, time) of one batch.

        Returns:
            A dict with the scalar ``"loss"`` to backpropagate and detached scalars to log.
        """
        raise NotImplementedError

    def online_parameters(self) -> list[nn.Parameter]:
        """Parameters the optimiser updates (targets excluded)."""
        target_ids = {id(p) for p in self.targets.parameters()}
        return [p for p in self.parameters() if id(p) not in target_ids and p.requires_grad]
