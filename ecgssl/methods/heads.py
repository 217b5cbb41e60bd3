"""Projection and prediction heads: a plain MLP and a batched per-lead MLP.

``MLPHead`` is the BYOL/SimCLR head (Linear -> BatchNorm -> ReLU -> Linear), deeper for
SimSiam, Barlow Twins and VICReg.
``LeadwiseMLPHead`` applies one such MLP *per lead* to per-lead latents
(batch, leads, dim) with all leads computed in one batched matmul (``einsum``), which is
how BELL's per-lead projectors and predictors stay fast.
"""

from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import Tensor, nn

from ecgssl.errors import InvalidValueError

__all__ = ["LeadwiseLinear", "LeadwiseMLPHead", "MLPHead"]


class MLPHead(nn.Module):
    """MLP head: ``num_layers - 1`` blocks of Linear -> BatchNorm1d -> ReLU, then a Linear.

    The default (2 layers) is the BYOL/SimCLR head (Grill et al. 2020; Chen et al. 2020).
    Three layers give the projectors of SimSiam, Barlow Twins and VICReg; ``last_bn`` adds a
    BatchNorm without affine parameters after the output layer (SimSiam, MoCo v3).

    Args:
        in_dim: Input features.
        hidden_dim: Hidden units of every hidden layer.
        out_dim: Output features.
        num_layers: Number of linear layers (>= 1).
        last_bn: Batch-normalise the output (no affine parameters, no bias before it).
    """

    def __init__(
        self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int = 2,
        last_bn: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        for name, v in (
            ("in_dim", in_dim), ("hidden_dim", hidden_dim), ("out_dim", out_dim),
            ("num_layers", num_layers),
        ):  # fmt: skip
            if int(v) < 1:
                raise InvalidValueError(f"{name} must be >= 1, got {v}")
        layers: list[nn.Module] = []
        dim = in_dim
        for _ in range(num_layers - 1):
            layers += [
                nn.Linear(dim, hidden_dim, bias=False),
                nn.BatchNorm1d(hidden_dim),
                nn.ReLU(inplace=True),
            ]
            dim = hidden_dim
        layers.append(nn.Linear(dim, out_dim, bias=not last_bn))
        if last_bn:
            layers.append(nn.BatchNorm1d(out_dim, affine=False))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, in_dim) -> (batch, out_dim)."""
        return self.net(x)


class LeadwiseLinear(nn.Module):
    """A separate linear map per lead, all leads in one ``einsum``.

    Args:
        n_leads: Number of leads (separate weight matrices); 1 shares one map across leads.
        in_dim: Input features per lead.
        out_dim: Output features per lead.
        bias: Add a per-lead bias.
    """

    def __init__(self, n_leads: int, in_dim: int, out_dim: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_leads, in_dim, out_dim))
        self.bias = nn.Parameter(torch.zeros(n_leads, out_dim)) if bias else None
        bound = 1.0 / math.sqrt(in_dim)  # nn.Linear's default init, per lead
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, leads, in_dim) -> (batch, leads, out_dim)."""
        if self.weight.shape[0] == 1:
            y = x @ self.weight[0]
        else:
            y = torch.einsum("bli,lio->blo", x, self.weight)
        return y if self.bias is None else y + self.bias


class LeadwiseMLPHead(nn.Module):
    """Per-lead MLP head: ``num_layers - 1`` blocks of LeadwiseLinear -> BatchNorm (per lead and
    unit) -> ReLU, then a LeadwiseLinear.

    Args:
        n_leads: Number of leads.
        in_dim: Input features per lead.
        hidden_dim: Hidden units per lead.
        out_dim: Output features per lead.
        shared: Share one MLP across all leads instead of one per lead.
        num_layers: Number of linear layers (>= 2): 2 for BYOL-style projectors and
            predictors, 3 for Barlow Twins / VICReg-style projectors.
    """

    def __init__(
        self,
        n_leads: int,
        in_dim: int,
        hidden_dim: int,
        out_dim: int,
        shared: bool = False,
        num_layers: int = 2,
    ) -> None:
        super().__init__()
        for name, v in (
            ("n_leads", n_leads), ("in_dim", in_dim), ("hidden_dim", hidden_dim),
            ("out_dim", out_dim),
        ):  # fmt: skip
            if int(v) < 1:
                raise InvalidValueError(f"{name} must be >= 1, got {v}")
        if isinstance(num_layers, bool) or int(num_layers) != num_layers or num_layers < 2:
            raise InvalidValueError(f"num_layers must be an integer >= 2, got {num_layers!r}")
        n_maps = 1 if shared else n_leads
        self.n_leads = n_leads
        self.shared = shared
        self.fc1 = LeadwiseLinear(n_maps, in_dim, hidden_dim, bias=False)
        # Per-lead statistics when separate; pooled over leads when shared.
        self.bn = nn.BatchNorm1d(hidden_dim if shared else n_leads * hidden_dim)
        # Extra hidden blocks beyond the first (none for 2 layers: checkpoints keep their keys).
        self.hidden = nn.ModuleList(
            LeadwiseLinear(n_maps, hidden_dim, hidden_dim, bias=False)
            for _ in range(int(num_layers) - 2)
        )
        self.hidden_bn = nn.ModuleList(
            nn.BatchNorm1d(hidden_dim if shared else n_leads * hidden_dim)
            for _ in range(int(num_layers) - 2)
        )
        self.fc2 = LeadwiseLinear(n_maps, hidden_dim, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, leads, in_dim) -> (batch, leads, out_dim)."""
        n_leads = x.shape[1]
        if n_leads != self.n_leads:
            raise InvalidValueError(f"head built for {self.n_leads} leads got {n_leads}")
        h = torch.relu(self._norm(self.bn, self.fc1(x)))
        for linear, norm in zip(self.hidden, self.hidden_bn):
            h = torch.relu(self._norm(norm, linear(h)))
        return self.fc2(h)

    def _norm(self, bn: nn.Module, h: Tensor) -> Tensor:
        """BatchNorm per lead and unit (separate heads) or pooled over leads (shared)."""
        if self.shared:  # every (record, lead) row is one sample
            return rearrange(bn(rearrange(h, "b l d -> (b l) d")), "(b l) d -> b l d", l=h.shape[1])
        return rearrange(bn(rearrange(h, "b l d -> b (l d)")), "b (l d) -> b l d", l=h.shape[1])
