"""InceptionTime-style 1-D network over all leads at once."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ecgssl.encoders.base import Encoder
from ecgssl.encoders.layers import ConcatPool1d, ConvBNAct, check_int, init_weights
from ecgssl.errors import InvalidValueError
from ecgssl.registry import ENCODERS

__all__ = ["Inception1d", "InceptionModule1d"]


class InceptionModule1d(nn.Module):
    """Bottleneck 1x1 conv, parallel convolutions of several kernel sizes, and a
    max-pool + 1x1 branch, concatenated, then BatchNorm + ReLU."""

    def __init__(self, c_in: int, filters: int, kernel_sizes: Sequence[int], bottleneck: int):
        super().__init__()
        self.bottleneck = nn.Conv1d(c_in, bottleneck, 1, bias=False) if c_in > 1 else nn.Identity()
        c_b = bottleneck if c_in > 1 else c_in
        self.convs = nn.ModuleList(
            nn.Conv1d(c_b, filters, k, padding=k // 2, bias=False) for k in kernel_sizes
        )
        self.pool_branch = nn.Sequential(
            nn.MaxPool1d(3, 1, 1), nn.Conv1d(c_in, filters, 1, bias=False)
        )
        self.bn_act = nn.Sequential(
            nn.BatchNorm1d(filters * (len(kernel_sizes) + 1)), nn.ReLU(inplace=True)
        )

    def forward(self, x: Tensor) -> Tensor:
        b = self.bottleneck(x)
        out = [conv(b) for conv in self.convs] + [self.pool_branch(x)]
        return self.bn_act(torch.cat(out, dim=1))


@ENCODERS.register("inception1d", "inception_time")
class Inception1d(Encoder):
    """InceptionTime for ECGs (Fawaz et al., "InceptionTime: Finding AlexNet for time series
    classification", DMKD 2020; as benchmarked on PTB-XL by Strodthoff et al., IEEE JBHI 2021).

    ``depth`` inception modules with a residual shortcut every three, then concatenated
    average + max pooling and an optional linear projection.

    Args:
        n_leads: Input leads (channels).
        filters: Filters per branch (output channels = 4 x filters).
        depth: Number of inception modules (a multiple of 3 gives full residual groups).
        kernel_sizes: Odd kernel sizes of the parallel convolutions (in samples).
        bottleneck: Channels of the 1x1 bottleneck.
        output_dim: Representation size (linear projection); ``None`` returns pooled features.

    With :meth:`~ecgssl.encoders.Encoder.set_checkpointing` each inception module and each
    shortcut is checkpointed in training.
    """

    supports_checkpointing = True

    def __init__(
        self,
        n_leads: int = 12,
        filters: int = 32,
        depth: int = 6,
        kernel_sizes: Sequence[int] = (9, 19, 39),
        bottleneck: int = 32,
        output_dim: int | None = 256,
    ) -> None:
        super().__init__()
        check_int(n_leads, "n_leads")
        check_int(filters, "filters")
        check_int(depth, "depth")
        check_int(bottleneck, "bottleneck")
        kernel_sizes = [int(k) for k in kernel_sizes]
        if not kernel_sizes or any(k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise InvalidValueError(
                f"kernel_sizes must be odd positive integers, got {kernel_sizes}"
            )
        if output_dim is not None:
            check_int(output_dim, "output_dim")
        self._remember_config("inception1d", n_leads=n_leads, filters=filters, depth=depth,
                              kernel_sizes=kernel_sizes, bottleneck=bottleneck,
                              output_dim=output_dim)  # fmt: skip
        self.n_leads = n_leads
        width = filters * (len(kernel_sizes) + 1)
        self.modules_ = nn.ModuleList(
            InceptionModule1d(n_leads if i == 0 else width, filters, kernel_sizes, bottleneck)
            for i in range(depth)
        )
        self.shortcuts = nn.ModuleList(
            ConvBNAct(n_leads if i == 0 else width, width, 1, act=False)
            for i in range(0, depth - depth % 3, 3)
        )
        self.act = nn.ReLU(inplace=True)
        self.pool = ConcatPool1d()
        self.proj = nn.Linear(2 * width, output_dim) if output_dim is not None else nn.Identity()
        self.output_dim = output_dim if output_dim is not None else 2 * width
        init_weights(self)

    def encode(self, x: Tensor) -> Tensor:
        res = x
        for i, module in enumerate(self.modules_):
            x = self.run_block(module, module, x)
            if i % 3 == 2:
                shortcut = self.shortcuts[i // 3]
                x = self.act(x + self.run_block(shortcut, shortcut, res))
                res = x
        return self.proj(self.pool(x))
