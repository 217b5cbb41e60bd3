"""Shared base for lead-pair methods (BELL, lead-wise Barlow Twins).

These methods work on a multi-branch encoder's per-lead latents (batch, leads, dim) and fuse
an intra-lead term with an inter-lead term, ``gamma * intra + (1 - gamma) * inter`` (see
:func:`ecgssl.methods.losses.fuse_lead_pairs`). This base class owns what they share: the
validation of ``gamma`` and the lead count, the ``inter_pairs`` mode ("all" lead pairs or one
random pair per step), weight sharing of branches and heads, and the default encoder.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ecgssl.encoders.base import Encoder
from ecgssl.errors import InvalidValueError
from ecgssl.methods.base import SSLMethod
from ecgssl.validation import check_in_range

__all__ = ["LeadPairMethod"]

_PAIR_MODES = ("all", "random")


class LeadPairMethod(SSLMethod):
    """An SSL method with intra- and inter-lead terms on per-lead latents.

    Subclasses call ``super().__init__`` with these arguments, then build their heads with
    ``self.n_leads``, ``self.per_lead_dim`` and ``self.shared_heads``, and pass
    :meth:`sample_pairs` to their lead-pair loss.

    Args:
        encoder: A multi-branch encoder (``per_lead_dim`` set).
        gamma: Weight of the intra-lead term in [0, 1].
        inter_pairs: ``"all"`` uses all L(L-1) ordered lead pairs in the inter-lead term;
            ``"random"`` samples one random pair (i, j != i) per step.
        shared_weights: Expected weight sharing of the encoder's branches (``None``: take the
            encoder as it is). ``ecgssl.pretrain`` uses it to build the default encoder.
        shared_heads: Share one head across leads (default: same as the encoder's sharing).
        base_momentum: EMA momentum at the start (methods with targets).
        final_momentum: EMA momentum at the end.
        momentum_schedule: ``"cosine"`` or ``"constant"``.
    """

    requires_multibranch = True

    def __init__(
        self,
        encoder: Encoder,
        gamma: float,
        inter_pairs: str = "all",
        shared_weights: bool | None = None,
        shared_heads: bool | None = None,
        base_momentum: float = 0.996,
        final_momentum: float = 1.0,
        momentum_schedule: str = "cosine",
    ) -> None:
        super().__init__(encoder, base_momentum, final_momentum, momentum_schedule)
        check_in_range(gamma, "gamma", 0.0, 1.0)
        if inter_pairs not in _PAIR_MODES:
            raise InvalidValueError(
                f"inter_pairs must be one of {_PAIR_MODES}, got {inter_pairs!r}"
            )
        encoder_shared = bool(encoder.config.get("shared_weights", False))
        if shared_weights is not None and bool(shared_weights) != encoder_shared:
            raise InvalidValueError(
                f"shared_weights={shared_weights} but the encoder was built with "
                f"shared_weights={encoder_shared}"
            )
        self.n_leads = encoder.n_leads
        if self.n_leads < 2 and gamma < 1.0:
            raise InvalidValueError(
                f"{self.name}'s inter-lead term needs at least 2 leads, the encoder has "
                f"{self.n_leads}; set gamma=1 for single-lead data"
            )
        self.per_lead_dim = int(encoder.per_lead_dim or 0)
        self.shared_heads = encoder_shared if shared_heads is None else bool(shared_heads)
        self.gamma = float(gamma)
        self.inter_pairs = inter_pairs
        self._remember(
            gamma=gamma, inter_pairs=inter_pairs, shared_weights=encoder_shared,
            shared_heads=self.shared_heads,
        )  # fmt: skip

    @classmethod
    def default_encoder(cls, **hparams: Any) -> dict[str, Any]:
        """Encoder spec used by ``ecgssl.pretrain`` when no encoder is given."""
        spec: dict[str, Any] = {"name": "multibranch"}
        if hparams.get("shared_weights") is not None:
            spec["shared_weights"] = bool(hparams["shared_weights"])
        return spec

    def sample_pairs(self, device: torch.device) -> Tensor | None:
        """The inter-lead pairs for this step: ``None`` (all pairs) or one random (1, 2) pair."""
        if self.inter_pairs == "all":
            return None
        n = self.n_leads
        i = torch.randint(n, (1,))
        j = (i + torch.randint(1, n, (1,))) % n  # uniform over j != i
        return torch.stack([i, j], dim=1).to(device)
