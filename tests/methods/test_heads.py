"""MLPHead depth options; the 2-layer default keeps the state-dict layout of old checkpoints."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ecgssl.methods import MLPHead
from ecgssl.methods.heads import LeadwiseMLPHead


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


def test_leadwise_head_two_layer_default_keeps_its_layout():
    head = LeadwiseMLPHead(3, 6, 8, 4)
    assert list(head.state_dict()) == [
        "fc1.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
        "bn.num_batches_tracked", "fc2.weight", "fc2.bias",
    ]  # fmt: skip


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("num_layers", [2, 3, 4])
def test_leadwise_head_depth_matches_a_per_lead_mlp(shared, num_layers):
    """Each lead's output equals an ordinary MLP built from that lead's weights."""
    torch.manual_seed(0)
    head = LeadwiseMLPHead(3, 6, 8, 4, shared=shared, num_layers=num_layers).eval()
    for m in head.modules():  # non-trivial running statistics
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    x = torch.randn(5, 3, 6)
    out = head(x)
    assert out.shape == (5, 3, 4)
    linears = [head.fc1, *head.hidden, head.fc2]
    norms = [head.bn, *head.hidden_bn]
    assert len(linears) == num_layers
    for lead in range(3):
        w = 0 if shared else lead
        h = x[:, lead]
        for k, lin in enumerate(linears):
            h = h @ lin.weight[w] + (0 if lin.bias is None else lin.bias[w])
            if k < len(norms):
                bn = norms[k]
                n = h.shape[1]
                sl = slice(0, n) if shared else slice(lead * n, (lead + 1) * n)
                h = (h - bn.running_mean[sl]) / torch.sqrt(bn.running_var[sl] + bn.eps)
                h = torch.relu(h * bn.weight[sl] + bn.bias[sl])
        torch.testing.assert_close(out[:, lead], h, atol=1e-5, rtol=1e-5)


def test_leadwise_head_refuses_fewer_than_two_layers():
    with pytest.raises(ValueError, match="num_layers"):
        LeadwiseMLPHead(3, 6, 8, 4, num_layers=1)
