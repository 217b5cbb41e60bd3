"""Multi-branch encoder: one convolutional branch per lead (BELL, MBN).

Each lead (1 x T) goes through its own small convolutional network and global pooling,
giving a per-lead latent h_i of size ``per_lead_dim``; the flat representation is the
concatenation [h_1, ..., h_L]. Branches have separate weights by default, or one shared
branch with ``shared_weights=True``.

Every branch's parameters are stored stacked as (leads, out, in, kernel) tensors, so the
same module can run its branches in several layouts that compute the same function:

- ``"bmm"``: activations kept lead-major as (leads, channels, batch * time); each convolution is
  an im2col (``kernel`` shifted copies) and *one* batched matmul over leads (``torch.bmm``),
  BatchNorm runs on the flat (leads * channels) rows, and nothing is permuted between blocks;
- ``"channels_last"``: one grouped 2-D convolution on a (batch, leads * channels, 1, time)
  channels-last tensor (oneDNN's fastest grouped kernel on CPU), kept through every block;
- ``"grouped"``: one grouped convolution (``groups = leads``) in (batch, leads * channels, time);
- ``"loop"``: one convolution per lead (the naive reference).

``impl="auto"`` picks ``"channels_last"`` on CPU (measured) and ``"bmm"`` on GPUs (by
reasoning, no GPU measured yet); see ``benchmarks/encoder_layouts.py`` and
``benchmarks/README.md``. Shared weights fold
the leads into the batch dimension (one weight set).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import cast

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from ecgssl.encoders.base import Encoder
from ecgssl.encoders.layers import check_int
from ecgssl.encoders.relu_pool import relu_max_pool2
from ecgssl.errors import InvalidValueError
from ecgssl.registry import ENCODERS

__all__ = ["LeadConvBlock", "MultiBranchEncoder"]

_IMPLS = ("auto", "bmm", "channels_last", "grouped", "loop")


class LeadConvBlock(nn.Module):
    """Per-lead Conv1d -> BatchNorm -> ReLU -> MaxPool(2), for ``n_maps`` weight sets.

    Args:
        n_maps: Number of separate weight sets (leads), 1 when shared.
        c_in: Input channels per lead.
        c_out: Output channels per lead.
        kernel_size: Odd convolution kernel size.
        pool: Max-pool by 2 after the activation.

    Attributes:
        low_memory: Fuse ReLU and max-pool (:func:`~ecgssl.encoders.relu_pool.relu_max_pool2`,
            same values and gradients): backward keeps a one-byte mask instead of the ReLU
            output and int64 indices, 2.5 -> 1.6 input-sized tensors per block, about 10-15 %
            slower on CPU. The encoder turns it on with activation checkpointing.
    """

    low_memory: bool = False

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
            xs = rearrange(x, "b (m c) t -> m b c t", m=self.n_maps).unbind(0)
            y = torch.cat([F.conv1d(xi, self.weight[i], padding=pad) for i, xi in enumerate(xs)], 1)
        else:
            w = self.weight.view(self.n_maps * self.c_out, self.c_in, self.kernel_size)
            y = F.conv1d(x, w, padding=pad, groups=self.n_maps)
        return self._relu_pool(self.bn(y), lambda r: F.max_pool1d(r, 2))

    def forward_channels_last(self, x: Tensor) -> Tensor:
        """(batch, n_maps * c_in, 1, time) -> (batch, n_maps * c_out, 1, time'), channels-last."""
        w = self.weight.view(self.n_maps * self.c_out, self.c_in, 1, self.kernel_size)
        y = F.conv2d(x, w, padding=(0, self.kernel_size // 2), groups=self.n_maps)
        return self._relu_pool(_norm_4d(self.bn, y), lambda r: F.max_pool2d(r, (1, 2)))

    def forward_lead_major(self, x: Tensor, batch: int) -> Tensor:
        """(n_maps, c_in, batch * time) -> (n_maps, c_out, batch * time') by im2col + bmm.

        ``batch`` counts the samples folded into the last axis (``batch * leads`` for shared
        weights). One ``torch.bmm`` over the ``n_maps`` weight sets does every convolution.
        """
        m, k, pad = self.n_maps, self.kernel_size, self.kernel_size // 2
        t = x.shape[-1] // batch
        xp = F.pad(rearrange(x, "m c (b t) -> m c b t", b=batch), (pad, pad))  # pad per sample
        cols = torch.stack([xp[..., j : j + t] for j in range(k)], dim=2)  # (m, cin, k, B, T)
        w = self.weight.reshape(m, self.c_out, self.c_in * k)
        y = torch.bmm(w, rearrange(cols, "m c k b t -> m (c k) (b t)"))  # (m, c_out, B*T)
        y = self.bn(y.view(1, m * self.c_out, batch * t))  # statistics over B*T per channel
        if not self.pool:
            return F.relu(y, inplace=True).view(m, self.c_out, batch * t)
        y = self._relu_pool(y.view(m * self.c_out * batch, 1, t), lambda r: F.max_pool1d(r, 2))
        return y.view(m, self.c_out, batch * (t // 2))

    def _relu_pool(self, y: Tensor, pool: Callable[[Tensor], Tensor]) -> Tensor:
        """ReLU, then ``pool`` (max by 2 over time) when the block pools: fused in
        :attr:`low_memory` mode, else ReLU in place and the PyTorch pool (faster on CPU)."""
        if not self.pool:
            return F.relu(y, inplace=True)
        if self.low_memory:
            return relu_max_pool2(y)
        return pool(F.relu(y, inplace=True))


def _norm_4d(norm: nn.Module, y: Tensor) -> Tensor:
    """Apply a block's normalisation to a (batch, channels, 1, time) tensor.

    A plain ``BatchNorm1d`` runs functionally on the 4-D tensor (keeping it channels-last);
    anything else (``SyncBatchNorm`` under DDP, an ``Identity`` swapped in by the user) is
    called as a module on the 3-D view, so that its own forward (e.g. the cross-process
    statistics of ``SyncBatchNorm``) is never bypassed.
    """
    if type(norm) is nn.BatchNorm1d:
        return _batch_norm(norm, y)
    return norm(y.squeeze(2)).unsqueeze(2)


def _batch_norm(bn: nn.BatchNorm1d, y: Tensor) -> Tensor:
    """``bn`` applied to a tensor of any rank (channels on dim 1), as ``bn.forward`` would."""
    momentum = 0.0 if bn.momentum is None else bn.momentum
    if bn.training and bn.track_running_stats and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        if bn.momentum is None:
            momentum = 1.0 / float(bn.num_batches_tracked)
    batch_stats = bn.training or (bn.running_mean is None and bn.running_var is None)
    track = not bn.training or bn.track_running_stats
    return F.batch_norm(
        y,
        bn.running_mean if track else None,
        bn.running_var if track else None,
        bn.weight,
        bn.bias,
        batch_stats,
        momentum,
        bn.eps,
    )


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
        impl: ``"auto"``, ``"bmm"``, ``"grouped"`` or ``"loop"``: how the branches are
            computed (same function, different speed; see the module docstring).

    With :meth:`set_checkpointing` each block is checkpointed in training (it keeps only its
    input, in every layout) and fuses its ReLU and max-pool (:attr:`LeadConvBlock.low_memory`).
    """

    supports_checkpointing = True

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
            raise InvalidValueError(f"kernel_size must be odd, got {kernel_size}")
        if impl not in _IMPLS:
            raise InvalidValueError(f"impl must be one of {_IMPLS}, got {impl!r}")
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

    def set_checkpointing(self, enabled: bool = True) -> MultiBranchEncoder:
        """As :meth:`Encoder.set_checkpointing`; the blocks also switch to their
        :attr:`LeadConvBlock.low_memory` fused ReLU + max-pool (same function)."""
        super().set_checkpointing(enabled)
        for block in self.blocks:
            assert isinstance(block, LeadConvBlock)
            block.low_memory = enabled
        return self

    def _impl_for(self, device: torch.device) -> str:
        if self.impl != "auto":
            return self.impl
        # benchmarks/encoder_layouts.py (2-core CPU, 12 x 250 samples, forward + backward):
        # the channels-last grouped conv2d was fastest at batch 64 and 256, the bmm layout at
        # batch 256 slower than the naive loop (im2col copies are memory-bound on CPU); see
        # benchmarks/README.md. On CUDA (not measured yet) one cuBLAS bmm per layer with
        # N = batch * time avoids the per-lead launches of the loop and the small-group cuDNN
        # kernels, and im2col traffic is cheap on HBM.
        return "channels_last" if device.type == "cpu" else "bmm"

    def forward_leads(self, x: Tensor) -> Tensor:
        """(batch, leads, time) -> per-lead latents (batch, leads, per_lead_dim)."""
        self.check_input(x)
        b, n_leads, _ = x.shape
        impl = self._impl_for(x.device)
        blocks = cast(list[LeadConvBlock], list(self.blocks))
        if impl == "bmm":
            # Lead-major (maps, channels, samples * time), kept through every block.
            m = 1 if self.shared_weights else n_leads
            rows = b * n_leads // m
            h = rearrange(x, "b (m k) t -> m 1 (k b t)", m=m)  # k = leads per weight set
            for block in blocks:
                h = self.run_block(block.forward_lead_major, block, h, rows)
            pooled = rearrange(h, "m d (r t) -> m d r t", r=rows).mean(dim=-1)
            return rearrange(pooled, "m d (k b) -> b (m k) d", b=b)
        h = rearrange(x, "b l t -> (b l) 1 t") if self.shared_weights else x
        if impl == "channels_last":
            h = h.unsqueeze(2).contiguous(memory_format=torch.channels_last)
            for block in blocks:
                h = self.run_block(block.forward_channels_last, block, h)
            return self._per_lead(h.mean(dim=(2, 3)), b)
        for block in blocks:
            h = self.run_block(block, block, h, impl)
        return self._per_lead(h.mean(dim=-1), b)

    def _per_lead(self, pooled: Tensor, batch: int) -> Tensor:
        """Pooled features -> (batch, leads, per_lead_dim): rows are (batch * leads) when the
        branch is shared, channels are (leads * per_lead_dim) otherwise."""
        if self.shared_weights:
            return rearrange(pooled, "(b l) d -> b l d", b=batch)
        return rearrange(pooled, "b (l d) -> b l d", l=self.n_leads)

    def encode(self, x: Tensor) -> Tensor:
        return self.forward_leads(x).flatten(1)


def _channels(width: int, out: int, depth: int) -> Sequence[int]:
    """Channels per block: doubling from ``width``, capped by and ending at ``out``."""
    chans = [min(width * 2**i, out) for i in range(depth - 1)]
    return [*chans, out] if depth > 1 else [out]


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(math.prod(p.shape) for p in module.parameters() if p.requires_grad)
