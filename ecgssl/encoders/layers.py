"""Building blocks shared by the encoders."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ecgssl.errors import InvalidValueError

__all__ = ["ConcatPool1d", "ConvBNAct", "check_int"]


def check_int(value: object, name: str, minimum: int = 1) -> int:
    """Validate an integer hyperparameter (raises ``ValueError`` naming it)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


class ConvBNAct(nn.Sequential):
    """Conv1d (same padding, no bias) -> BatchNorm1d -> ReLU (optional)."""

    def __init__(
        self, c_in: int, c_out: int, kernel_size: int, stride: int = 1, act: bool = True,
        groups: int = 1,
    ) -> None:  # fmt: skip
        layers: list[nn.Module] = [
            nn.Conv1d(
                c_in, c_out, kernel_size, stride, kernel_size // 2, bias=False, groups=groups
            ),
            nn.BatchNorm1d(c_out),
        ]
        if act:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class ConcatPool1d(nn.Module):
    """Global average and max pooling over time, concatenated (fastai / xresnet1d head)."""

    def forward(self, x: Tensor) -> Tensor:
        """(batch, channels, time) -> (batch, 2 * channels)."""
        return torch.cat([x.mean(dim=-1), x.amax(dim=-1)], dim=1)


def init_weights(module: nn.Module) -> None:
    """Kaiming-normal convolutions and linears, unit/zero BatchNorm."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm1d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
