"""MLPHead depth options; the 2-layer default keeps the state-dict layout of old checkpoints."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ecgssl.methods import MLPHead


def test_default_two_layer_head_keeps_its_layout():
    head = MLPHead(6, 8, 4)
    assert list(head.state_dict()) == [
        "net.0.weight", "net.1.weight", "net.1.bias", "net.1.running_mean", "net.1.running_var",
        "net.1.num_batches_tracked", "net.3.weight", "net.3.bias",
    ]  # fmt: skip


@pytest.mark.parametrize("num_layers", [1, 2, 3, 4])
@pytest.mark.parametrize("last_bn", [False, True])
def test_depth_and_output_batchnorm(num_layers, last_bn):
    head = MLPHead(6, 8, 4, num_layers=num_layers, last_bn=last_bn)
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == num_layers
    assert (linears[-1].bias is None) == last_bn
    out = head(torch.randn(5, 6))
    assert out.shape == (5, 4)
    if last_bn:  # training-mode BN without affine: zero mean, unit variance per feature
        torch.testing.assert_close(out.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
        assert isinstance(head.net[-1], nn.BatchNorm1d) and not head.net[-1].affine


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="num_layers"):
        MLPHead(6, 8, 4, num_layers=0)
    with pytest.raises(ValueError, match="hidden_dim"):
        MLPHead(6, 0, 4)
