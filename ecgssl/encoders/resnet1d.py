"""xresnet1d-style residual network over all leads at once."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from ecgssl.encoders.base import Encoder
from ecgssl.encoders.layers import ConcatPool1d, ConvBNAct, check_int, init_weights
from ecgssl.errors import InvalidValueError
from ecgssl.registry import ENCODERS

__all__ = ["BasicBlock1d", "ResNet1d"]


class BasicBlock1d(nn.Module):
    """Two convolutions with an identity (or 1x1-projected, average-pooled) shortcut."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            ConvBNAct(c_in, c_out, kernel_size, stride),
            ConvBNAct(c_out, c_out, kernel_size, act=False),
        )
        shortcut: list[nn.Module] = []
        if stride != 1:
            shortcut.append(nn.AvgPool1d(stride, stride, ceil_mode=True))
        if c_in != c_out:
            shortcut.append(ConvBNAct(c_in, c_out, 1, act=False))
        self.shortcut = nn.Sequential(*shortcut)
        self.act = nn.ReLU(inplace=True)

    def zero_init_last_bn(self) -> None:
        """Zero the last BatchNorm's scale so that the residual block starts as identity."""
        last = self.convs[-1]
        assert isinstance(last, ConvBNAct)
        bn = last[1]
        assert isinstance(bn, nn.BatchNorm1d)
        nn.init.zeros_(bn.weight)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.convs(x) + self.shortcut(x))


@ENCODERS.register("resnet1d", "xresnet1d")
class ResNet1d(Encoder):
    """A 1-D xresnet (Strodthoff et al., "Deep learning for ECG analysis: benchmarks and
    insights from PTB-XL", IEEE JBHI 2021; He et al., "Bag of tricks", CVPR 2019).

    Stem of three convolutions (the first with stride 2) and a max-pool, then residual stages
    whose widths double (``width``, 2 ``width``, ...) with stride 2 from the second stage,
    concatenated average + max pooling, and an optional linear projection.

    Args:
        n_leads: Input leads (channels).
        width: Channels of the first stage.
        depth: Residual blocks per stage, e.g. ``(1, 1, 1, 1)``.
        kernel_size: Odd kernel size of the residual convolutions.
        output_dim: Size of the representation (linear projection of the pooled features);
            ``None`` returns the pooled features (2 x the last stage's width).

    With :meth:`~ecgssl.encoders.Encoder.set_checkpointing` each stem convolution and each
    residual block is checkpointed in training.
    """

    supports_checkpointing = True

    def __init__(
        self,
        n_leads: int = 12,
        width: int = 32,
        depth: Sequence[int] = (1, 1, 1, 1),
        kernel_size: int = 5,
        output_dim: int | None = 256,
    ) -> None:
        super().__init__()
        check_int(n_leads, "n_leads")
        check_int(width, "width")
        check_int(kernel_size, "kernel_size")
        if kernel_size % 2 == 0:
            raise InvalidValueError(f"kernel_size must be odd, got {kernel_size}")
        depth = tuple(int(d) for d in depth)
        if not depth or any(d < 1 for d in depth):
            raise InvalidValueError(
                f"depth must be a non-empty sequence of integers >= 1, got {depth}"
            )
        if output_dim is not None:
            check_int(output_dim, "output_dim")
        self._remember_config("resnet1d", n_leads=n_leads, width=width, depth=list(depth),
                              kernel_size=kernel_size, output_dim=output_dim)  # fmt: skip
        self.n_leads = n_leads
        stem_w = max(width // 2, 8)
        self.stem = nn.Sequential(
            ConvBNAct(n_leads, stem_w, 5, stride=2),
            ConvBNAct(stem_w, stem_w, 5),
            ConvBNAct(stem_w, width, 5),
            nn.MaxPool1d(3, 2, 1),
        )
        blocks: list[nn.Module] = []
        c_in = width
        for stage, n_blocks in enumerate(depth):
            c_out = width * 2**stage
            for i in range(n_blocks):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock1d(c_in, c_out, kernel_size, stride))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.pool = ConcatPool1d()
        self.proj = nn.Linear(2 * c_in, output_dim) if output_dim is not None else nn.Identity()
        self.output_dim = output_dim if output_dim is not None else 2 * c_in
        self.min_length = 2 ** (len(depth) + 1)
        init_weights(self)
        for block in self.blocks:  # zero-init each block's last BN: blocks start as identity
            assert isinstance(block, BasicBlock1d)
            block.zero_init_last_bn()

    def encode(self, x: Tensor) -> Tensor:
        for layer in [*self.stem, *self.blocks]:
            x = self.run_block(layer, layer, x)
        return self.proj(self.pool(x))
