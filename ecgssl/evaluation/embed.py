"""Frozen-encoder embeddings of whole records, batched."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ecgssl.data.base import ECGDataset
from ecgssl.device import resolve_device
from ecgssl.encoders.base import Encoder
from ecgssl.precision import resolve_amp
from ecgssl.training.allocator import tune_cpu_allocator
from ecgssl.validation import check_positive, check_signal

__all__ = ["embed", "encoder_input"]


def encoder_input(
    encoder: Encoder, signals: np.ndarray | Tensor | ECGDataset, batch_size: int, name: str
) -> Tensor:
    """``signals`` (or a dataset's) as a float tensor checked against ``encoder`` (lead count,
    minimum length, finite values) and a checked ``batch_size``: what every batched forward
    pass over records needs first."""
    if isinstance(signals, ECGDataset):
        signals = signals.signals
    x = torch.as_tensor(signals)
    if not x.is_floating_point():
        x = x.float()
    check_signal(x, name=name, n_leads=encoder.n_leads, min_length=encoder.min_length)
    check_positive(batch_size, "batch_size")
    return x


@torch.no_grad()
def embed(
    encoder: Encoder,
    signals: np.ndarray | Tensor | ECGDataset,
    batch_size: int = 256,
    device: str | torch.device = "auto",
    per_lead: bool = False,
    amp: bool | str = "auto",
) -> np.ndarray:
    """Representations of ``signals`` from a frozen encoder (eval mode), as float32 numpy.

    Args:
        encoder: Any ecgssl encoder (e.g. ``result.encoder`` after pretraining).
        signals: (records, leads, time) array/tensor, or an :class:`ECGDataset`.
        batch_size: Records per forward pass.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        per_lead: Return per-lead latents (records, leads, D) (multi-branch encoders only).
        amp: Mixed precision of the forward passes (:func:`ecgssl.precision.resolve_amp`):
            ``"auto"`` uses autocast on CUDA and on CPUs with fast bfloat16, ``True`` forces
            it, ``False`` keeps float32. The embeddings are returned as float32 either way.

    Returns:
        (records, output_dim) embeddings, or (records, leads, per_lead_dim) with ``per_lead``.
    """
    x = encoder_input(encoder, signals, batch_size, "signals to embed")
    dev = resolve_device(device)
    plan = resolve_amp(amp, dev)
    if dev.type == "cpu":
        tune_cpu_allocator()  # large CPU tensors reuse freed memory: no page-fault storm
    was_training = encoder.training
    encoder.eval()
    try:
        model_dev = next(encoder.parameters()).device
        encoder.to(dev)
        outs = []
        for start in range(0, x.shape[0], int(batch_size)):
            xb = x[start : start + int(batch_size)].to(dev, dtype=torch.float32)
            with plan.autocast():
                out = encoder.forward_leads(xb) if per_lead else encoder(xb)
            outs.append(out.float().cpu())
        encoder.to(model_dev)
    finally:
        encoder.train(was_training)
    return torch.cat(outs).numpy()
