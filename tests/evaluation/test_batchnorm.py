"""recalibrate_batchnorm: running statistics from data, weights untouched, errors named."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ecgssl
from ecgssl.evaluation import embed, recalibrate_batchnorm


def _signals(n: int = 24, scale: float = 3.0, offset: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (offset + scale * rng.normal(size=(n, 12, 256))).astype(np.float32)


def test_statistics_come_from_the_data_and_weights_are_untouched():
    torch.manual_seed(0)
    enc = ecgssl.build_encoder("multibranch", 12)
    weights = {k: v.clone() for k, v in enc.state_dict().items() if "running" not in k}
    x = _signals()
    bn = next(m for m in enc.modules() if isinstance(m, torch.nn.BatchNorm1d))
    assert torch.all(bn.running_mean == 0) and torch.all(bn.running_var == 1)
    out = recalibrate_batchnorm(enc, x, batch_size=8, device="cpu")
    assert out is enc and not enc.training
    assert bn.momentum == 0.1  # restored
    assert not torch.all(bn.running_mean == 0) and not torch.all(bn.running_var == 1)
    for k, v in enc.state_dict().items():
        if k in weights and "num_batches" not in k:
            torch.testing.assert_close(v, weights[k])
    # Eval mode now normalises like train mode on the same data: the first block's
    # pre-activations are centred with unit variance per channel.
    conv = enc.blocks[0]
    w = conv.weight.view(-1, conv.c_in, conv.kernel_size)
    y = torch.nn.functional.conv1d(torch.as_tensor(x), w, padding=conv.kernel_size // 2,
                                   groups=conv.n_maps)  # fmt: skip
    torch.testing.assert_close(conv.bn.running_mean, y.mean((0, 2)), atol=1e-4, rtol=1e-4)


def test_one_pass_average_does_not_depend_on_earlier_statistics():
    torch.manual_seed(0)
    a = ecgssl.build_encoder("multibranch", 12)
    b = ecgssl.build_encoder("multibranch", 12)
    b.load_state_dict(a.state_dict())
    recalibrate_batchnorm(b, _signals(offset=-5.0), device="cpu")  # stale statistics first
    recalibrate_batchnorm(a, _signals(), device="cpu")
    recalibrate_batchnorm(b, _signals(), device="cpu")
    np.testing.assert_allclose(embed(a, _signals(4), device="cpu"),
                               embed(b, _signals(4), device="cpu"), rtol=1e-5, atol=1e-6)  # fmt: skip


def test_errors_name_the_problem():
    enc = ecgssl.build_encoder("multibranch", 12)
    with pytest.raises(ValueError, match="leads"):
        recalibrate_batchnorm(enc, np.zeros((4, 3, 256), np.float32))
    with pytest.raises(ValueError, match=r"NaN|finite"):
        recalibrate_batchnorm(enc, np.full((4, 12, 256), np.nan, np.float32))
    with pytest.raises(ValueError, match="batch_size"):
        recalibrate_batchnorm(enc, _signals(4), batch_size=0)
    pooled = torch.nn.Sequential(torch.nn.Conv1d(12, 8, 5), torch.nn.AdaptiveAvgPool1d(1),
                                 torch.nn.Flatten())  # fmt: skip
    plain = ecgssl.wrap_model(pooled, output_dim=8, n_leads=12, fs=100)
    with pytest.raises(ValueError, match="no BatchNorm"):
        recalibrate_batchnorm(plain, _signals(4))
