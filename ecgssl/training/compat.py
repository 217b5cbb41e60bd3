"""Checks that a checkpoint fits the run, data or encoder it is loaded into.

Every refusal raises :class:`CheckpointMismatchError` (a ``ValueError``) naming the
checkpoint's value and the requested one, e.g. ``checkpoint fs 500.0 != requested fs 100.0``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ecgssl.encoders.base import Encoder
from ecgssl.errors import InvalidValueError
from ecgssl.training.encoder_files import read_encoder

__all__ = ["CheckpointMismatchError", "check_checkpoint", "load_encoder"]


class CheckpointMismatchError(InvalidValueError):
    """A checkpoint's method, encoder, sampling rate or lead order differs from the request."""


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return bool(a == b)


def check_checkpoint(
    ckpt: Mapping[str, Any],
    *,
    source: str | Path = "checkpoint",
    method: str | None = None,
    hparams: Mapping[str, Any] | None = None,
    encoder: Mapping[str, Any] | None = None,
    fs: float | None = None,
    leads: Sequence[str] | None = None,
) -> None:
    """Refuse a checkpoint whose facts differ from the requested ones (``None``: not checked).

    Args:
        ckpt: A loaded checkpoint (:func:`~ecgssl.training.checkpoint.load_checkpoint`).
        source: How to call the checkpoint in messages (usually its path).
        method: Required method name.
        hparams: Required method hyperparameters.
        encoder: Required encoder config (``{"name": ..., **kwargs}``).
        fs: Required sampling rate in Hz.
        leads: Required lead names, in order.

    Raises:
        CheckpointMismatchError: a value differs; the message names both values.
    """
    signal = ckpt.get("signal") or {}
    recorded = ckpt.get("method") or {}
    checks: list[tuple[str, Any, Any]] = [
        ("method", recorded.get("name"), method),
        ("method settings", recorded.get("hparams"), hparams),
        ("encoder", ckpt["encoder"], encoder),
        ("fs", signal.get("fs"), fs),
        ("lead order", signal.get("leads"), None if leads is None else list(leads)),
    ]
    for what, theirs, mine in checks:
        if mine is None or theirs is None:
            continue  # not requested, or not recorded (e.g. a tensor without lead names)
        if isinstance(theirs, Mapping) and isinstance(mine, Mapping):
            diff = sorted(
                k for k in set(theirs) | set(mine) if not _same(theirs.get(k), mine.get(k))
            )
            if diff:
                detail = ", ".join(
                    f"{k}: checkpoint {theirs.get(k)!r} != requested {mine.get(k)!r}" for k in diff
                )
                raise CheckpointMismatchError(f"{source}: {what} differs ({detail})")
        elif not _same(theirs, mine):
            raise CheckpointMismatchError(
                f"{source}: checkpoint {what} {theirs!r} != requested {what} {mine!r}"
            )


def load_encoder(
    path: str | Path,
    *,
    fs: float | None = None,
    leads: Sequence[str] | None = None,
    encoder: Mapping[str, Any] | Encoder | None = None,
    map_location: str | torch.device = "cpu",
) -> Encoder:
    """Rebuild a pretrained encoder from any file ecgssl writes, after checking it fits.

    Args:
        path: An encoder folder (``config.json`` + ``model.safetensors``, written by
            :meth:`Encoder.save_pretrained <ecgssl.encoders.Encoder.save_pretrained>` or
            ``ecgssl pretrain --out``), a :class:`~ecgssl.training.Pretrainer` checkpoint, or
            a legacy ``encoder.pt``.
        fs: Sampling rate of the data the encoder will see (checked if given).
        leads: Lead order of that data (checked if given).
        encoder: Expected encoder config or instance (checked if given). With an instance, its
            weights are replaced by the stored ones and it is returned. Required for a model
            wrapped with :func:`ecgssl.wrap_model`: wrap a new instance of the same module
            with the same contract and pass it.
        map_location: Device for the loaded weights.

    Returns:
        The encoder in eval mode.

    Raises:
        FileNotFoundError: nothing at ``path``.
        CheckpointMismatchError: fs, lead order or encoder config differ (both values named).
        EncoderFileError: (a ``ValueError``) not an ecgssl encoder file, or a damaged one; a
            file holding pickled Python objects is refused, never unpickled.
        ValueError: the file holds a wrapped model and no ``encoder`` instance was given.

    Example:
        >>> enc = ecgssl.load_encoder("runs/bell/encoder", fs=100, leads=dataset.leads)
    """
    into = encoder if isinstance(encoder, Encoder) else None
    loaded, card = read_encoder(path, map_location=map_location, into=into)
    wanted = encoder.config if isinstance(encoder, Encoder) else encoder
    facts = {"method": card.get("method") or {}, "encoder": card["encoder"],
             "signal": {"fs": card.get("fs"), "leads": card.get("leads")}}  # fmt: skip
    check_checkpoint(facts, source=path, encoder=wanted, fs=fs, leads=leads)
    return loaded.eval()
