"""Device selection shared by training, evaluation and embedding."""

from __future__ import annotations

import torch

from ecgssl.errors import InvalidValueError

__all__ = ["resolve_device"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"`` into CUDA when available (else CPU) and validate explicit devices.

    Raises:
        ValueError: the device string is invalid or names an unavailable CUDA device.
    """
    if isinstance(device, torch.device):
        dev = device
    elif device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as e:
            raise InvalidValueError(f"invalid device {device!r}: {e}") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidValueError(
            f"device {str(dev)!r} requested but CUDA is not available on this machine"
        )
    return dev
