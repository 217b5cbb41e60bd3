"""Multi-branch encoder: one convolutional branch per lead (BELL, MBN).

Each lead (1 x T) goes through its own small convolutional network and global pooling,
giving a per-lead latent h_i of size ``per_lead_dim``; the flat representation is the
concatenation [h_1, ..., h_L]. Branches have separate weights by default, or one shared
branch with ``shared_weights=True``.

Every branch's parameters are stored stacked as (leads, out, in, kernel) tensors, so the
same module can run its separate-weight branches either as one *grouped* convolution
(``groups = leads``) or as a *loop* of per-lead convolutions; both compute the same function
and ``impl="auto"`` picks the faster one for the device (see ``benchmarks/encoder_layouts.py``).
Shared weights fold the leads into the batch dimension (one ordinary convolution).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ecgssl.encoders.base import Encoder
from ecgssl.encoders.layers import check_int
from ecgssl.registry import ENCODERS

__all__ = ["LeadConvBlock", "MultiBranchEncoder"]

_IMPLS = ("auto", "grouped", "loop")


class LeadConvBlock(nn.Module):
    """Per-lead Conv1d -> BatchNorm -> ReLU -> MaxPool(2), for ``n_maps`` weight sets.

    Args:
        n_maps: Number of separate weight sets (leads), 1 when shared.
        c_in: Input channels per lead.
        c_out: Output channels per lead.
        kernel_size: Odd convolution kernel size.
        pool: Max-pool by 2 after the activation.
    """

    def __init__(self, n_maps: int, c_in: int, c_out: int, kernel_size: int, pool: bool) -> None:
        super().__init__()
        self.n_maps, self.c_in, self.c_out = n_maps, c_in, c_out
        self.kernel_size, self.pool = kernel_size, pool
        self.weight = nn.Parameter(torch.empty(n_maps, c_out, c_in, kernel_size))
        nn.init.kaiming_normal_(self.weight.view(n_maps * c_out, c_in, kernel_size),
                                nonlinearity="relu")  # fmt: skip
        self.bn = nn.BatchNorm1d(n_maps * c_out)

    def forward(self, x: Tensor, impl: str) -> Tensor:
        """(batch, n_maps * c_in, time) -> (batch, n_maps * c_out, time')."""
        pad = self.kernel_size // 2
        if impl == "loop" and self.n_maps > 1:
            xs = x.view(x.shape[0], self.n_maps, self.c_in, x.shape[-1]).unbind(1)
            y = torch.cat([F.conv1d(xi, self.weight[i], padding=pad) for i, xi in enumerate(xs)], 1)
        else:
            w = self.weight.view(self.n_maps * self.c_out, self.c_in, self.kernel_size)
            y = F.conv1d(x, w, padding=pad, groups=self.n_maps)
        y = F.relu(self.bn(y), inplace=True)
        return F.max_pool1d(y, 2) if self.pool else y


@ENCODERS.register("multibranch", "multi_branch", "mbn")
class MultiBranchEncoder(Encoder):
    """One small 1-D CNN branch per lead; per-lead latents and their concatenation.

    Each branch: ``depth`` blocks of Conv1d(kernel_size) -> BatchNorm -> ReLU -> MaxPool(2)
    (no pooling in the last block) with channels doubling from ``width`` up to
    ``per_lead_dim``, then global average pooling over time. This follows the multi-branch
    networks of Liu et al. (MBN, Biosensors 2022) and the small VGG-like per-lead branches with
    64-d outputs of the same group's LFBT/LCD work.

    Args:
        n_leads: Number of input leads (= branches).
        per_lead_dim: Size of each lead's latent h_i.
        width: Channels of the first block.
        depth: Number of conv blocks per branch.
        kernel_size: Odd kernel size of every convolution.
        shared_weights: One branch shared by all leads instead of one per lead.
        impl: ``"auto"``, ``"grouped"`` or ``"loop"``: how separate branches are computed
            (same function, different speed).
    """

    def __init__(
        self,
        n_leads: int = 12,
        per_lead_dim: int = 64,
        width: int = 16,
        depth: int = 4,
        kernel_size: int = 7,
        shared_weights: bool = False,
        impl: str = "auto",
    ) -> None:
        super().__init__()
        check_int(n_leads, "n_leads")
        check_int(per_lead_dim, "per_lead_dim")
        check_int(width, "width")
        check_int(depth, "depth")
        check_int(kernel_size, "kernel_size")
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if impl not in _IMPLS:
            raise ValueError(f"impl must be one of {_IMPLS}, got {impl!r}")
        self._remember_config(
            "multibranch", n_leads=n_leads, per_lead_dim=per_lead_dim, width=width, depth=depth,
            kernel_size=kernel_size, shared_weights=bool(shared_weights), impl=impl,
        )  # fmt: skip
        self.n_leads = n_leads
        self.per_lead_dim = per_lead_dim
        self.output_dim = n_leads * per_lead_dim
        self.min_length = 2 ** (depth - 1)
        self.shared_weights = bool(shared_weights)
        self.impl = impl
        channels = _channels(width, per_lead_dim, depth)
        n_maps = 1 if self.shared_weights else n_leads
        self.blocks = nn.ModuleList(
            LeadConvBlock(n_maps, c_in, c_out, kernel_size, pool=i < depth - 1)
            for i, (c_in, c_out) in enumerate(zip([1, *channels[:-1]], channels))
        )

    def _impl_for(self, device: torch.device) -> str:
        if self.impl != "auto":
            return self.impl
        # Measured with benchmarks/encoder_layouts.py (2-core CPU, 12 x 250 samples, forward +
        # backward): the per-lead loop ran 1.17-1.25x faster than the grouped convolution at
        # batch 64/256. On CUDA one grouped kernel avoids 12 launches per layer.
        return "loop" if device.type == "cpu" else "grouped"

    def forward_leads(self, x: Tensor) -> Tensor:
        """(batch, leads, time) -> per-lead latents (batch, leads, per_lead_dim)."""
        self.check_input(x)
        b, n_leads, t = x.shape
        impl = self._impl_for(x.device)
        h = x.reshape(b * n_leads, 1, t) if self.shared_weights else x
        for block in self.blocks:
            h = block(h, impl)
        return h.mean(dim=-1).reshape(b, n_leads, -1)

    def encode(self, x: Tensor) -> Tensor:
        return self.forward_leads(x).flatten(1)


def _channels(width: int, out: int, depth: int) -> Sequence[int]:
    """Channels per block: doubling from ``width``, capped by and ending at ``out``."""
    chans = [min(width * 2**i, out) for i in range(depth - 1)]
    return [*chans, out] if depth > 1 else [out]


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(math.prod(p.shape) for p in module.parameters() if p.requires_grad)
