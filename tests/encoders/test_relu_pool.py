"""relu_max_pool2 against the obvious reference, max_pool(relu(y), 2): values, gradients (ties
and odd lengths included), layouts, and what it keeps for backward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ecgssl.encoders.relu_pool import relu_max_pool2


def reference(y: torch.Tensor) -> torch.Tensor:
    if y.dim() == 4:
        return F.max_pool2d(F.relu(y), (1, 2))
    return F.max_pool1d(F.relu(y), 2)


def inputs(shape: tuple[int, ...], channels_last: bool = False) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    y = torch.randn(shape, generator=g).round(decimals=1)  # rounded: many exact ties
    y[..., :4] = 0.0  # ties at zero, where ReLU and the pool meet
    if channels_last:
        y = y.contiguous(memory_format=torch.channels_last)
    return y.requires_grad_()


@pytest.mark.parametrize("shape, channels_last", [
    ((3, 8, 50), False), ((3, 8, 51), False), ((24, 1, 33), False),
    ((3, 8, 1, 50), True), ((3, 8, 1, 51), True),
])  # fmt: skip
def test_matches_relu_then_max_pool(shape, channels_last):
    y = inputs(shape, channels_last)
    out, ref = relu_max_pool2(y), reference(y)
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    grad = torch.randn_like(ref)
    (g_out,) = torch.autograd.grad(out, y, grad)
    (g_ref,) = torch.autograd.grad(ref, y, grad)
    torch.testing.assert_close(g_out, g_ref, rtol=0, atol=0)
    assert g_out.stride() == y.stride()  # the gradient keeps the layout (channels-last)
    with torch.no_grad():
        torch.testing.assert_close(relu_max_pool2(y), ref, rtol=0, atol=0)


def test_bf16_under_autocast():
    y = inputs((2, 4, 40)).detach().bfloat16().requires_grad_()
    out, ref = relu_max_pool2(y), reference(y)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    grad = torch.randn_like(ref)
    torch.testing.assert_close(torch.autograd.grad(out, y, grad)[0],
                               torch.autograd.grad(ref, y, grad)[0], rtol=0, atol=0)  # fmt: skip


def test_keeps_a_mask_and_the_output_only():
    y = inputs((4, 16, 1000)).detach().requires_grad_()
    saved: list[torch.Tensor] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = relu_max_pool2(y * 1.0)
    assert sorted(str(t.dtype) for t in saved) == sorted(["torch.bool", str(out.dtype)])
    kept = sum(t.numel() * t.element_size() for t in saved)
    assert kept < 0.7 * y.numel() * y.element_size()  # the reference keeps 2.5x y's bytes
