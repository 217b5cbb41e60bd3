"""Read a trained encoder and its card from any file ecgssl writes.

* an **encoder folder** (``config.json`` + ``model.safetensors``), written by
  :meth:`Encoder.save_pretrained <ecgssl.encoders.Encoder.save_pretrained>`,
  :meth:`PretrainResult.save_pretrained <ecgssl.training.PretrainResult.save_pretrained>` and
  ``ecgssl pretrain --out`` (the format to use);
* a :class:`~ecgssl.training.Pretrainer` **checkpoint** (``ckpt-epoch...-step....pt``);
* an ``encoder.pt`` written by ``ecgssl pretrain --out`` before the folder format (legacy).

Nothing is unpickled: ``.pt`` files load with ``torch.load(weights_only=True)`` and a file
holding other Python objects is refused with an :class:`EncoderFileError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ecgssl.encoders.base import Encoder
from ecgssl.encoders.pretrained import (
    EncoderFileError,
    encoder_card,
    is_pretrained_folder,
    load_pretrained,
)
from ecgssl.encoders.wrapped import check_rebuildable
from ecgssl.errors import DataNotFoundError
from ecgssl.registry import ENCODERS
from ecgssl.training.checkpoint import safe_torch_load, validate_checkpoint

__all__ = ["EncoderFileError", "read_encoder"]


def read_encoder(
    path: str | Path, map_location: str | torch.device = "cpu", into: Encoder | None = None
) -> tuple[Encoder, dict[str, Any]]:
    """The encoder (eval mode) and its card from an encoder folder, checkpoint or encoder.pt.

    Args:
        path: An encoder folder (or its ``config.json`` / ``model.safetensors``), a
            Pretrainer checkpoint, or a legacy ``encoder.pt``.
        map_location: Device for the weights.
        into: Load the weights into this encoder instead of building one from the stored
            spec (required for a model wrapped with :func:`ecgssl.wrap_model`).

    Returns:
        ``(encoder, card)``, the card as :func:`~ecgssl.encoders.pretrained.encoder_card`
        writes it (fs, leads, window, preprocessing, method, dataset, encoder spec...).

    Raises:
        FileNotFoundError: nothing at ``path``.
        EncoderFileError: not an ecgssl encoder file, or a damaged one (also for files holding
            pickled Python objects, which are never loaded).
    """
    path = Path(path).expanduser()
    if path.is_dir() or path.name in ("config.json", "model.safetensors"):
        if path.is_dir() and not is_pretrained_folder(path):
            raise DataNotFoundError(f"no encoder file at {path}: a folder without config.json")
        return load_pretrained(path, map_location, into=into)
    if not path.is_file():
        raise DataNotFoundError(f"no encoder file at {path}")
    try:
        obj = safe_torch_load(path, map_location=map_location)
    except ValueError as e:
        raise EncoderFileError(path, str(e)) from None
    if isinstance(obj, dict) and "format" in obj and "method_state" in obj:
        enc, card = _from_checkpoint(obj, path, into)
        return enc.to(map_location), card
    if isinstance(obj, dict) and {"encoder", "state_dict"} <= set(obj):
        enc, card = _from_encoder_pt(obj, path, into)
        return enc.to(map_location), card
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise EncoderFileError(
            path,
            "a bare state_dict: it lacks the encoder config needed to rebuild the encoder; "
            "save with encoder.save_pretrained(folder) instead",
        )
    raise EncoderFileError(path, f"a {type(obj).__name__} that is no ecgssl checkpoint or encoder")


def _build(
    spec: Any, state: dict[str, torch.Tensor], path: Path, into: Encoder | None = None
) -> Encoder:
    if not isinstance(spec, dict) or "name" not in spec:
        raise EncoderFileError(path, f"encoder spec {spec!r} has no name")
    if into is not None:
        try:
            into.load_state_dict(state)
        except RuntimeError as e:
            raise EncoderFileError(path, f"weights do not fit the given encoder: {e}") from e
        return into.eval()
    check_rebuildable(spec, f"the encoder in {path}")
    try:
        enc = ENCODERS.build(dict(spec))
    except (KeyError, TypeError, ValueError) as e:
        raise EncoderFileError(path, f"cannot build its encoder: {e}") from e
    if not isinstance(enc, Encoder):
        raise EncoderFileError(path, f"{spec!r} built no Encoder")
    try:
        enc.load_state_dict(state)
    except RuntimeError as e:
        raise EncoderFileError(path, f"weights do not fit {spec!r}: {e}") from e
    return enc.eval()


def _from_checkpoint(
    obj: dict[str, Any], path: Path, into: Encoder | None = None
) -> tuple[Encoder, dict[str, Any]]:
    try:
        ckpt = validate_checkpoint(obj, path)
    except ValueError as e:
        raise EncoderFileError(path, str(e)) from None
    prefix = "encoder."
    state = {k[len(prefix) :]: v for k, v in ckpt["method_state"].items() if k.startswith(prefix)}
    enc = _build(ckpt["encoder"], state, path, into)
    meta = ckpt.get("metadata") or {}
    card = encoder_card(enc, ckpt.get("signal"), ckpt.get("method"), ckpt.get("preprocessing"),
                        ckpt.get("normalisation"), meta.get("dataset"))  # fmt: skip
    card["encoder"] = dict(ckpt["encoder"])  # the stored spec, also when loaded ``into``
    return enc, card


def _from_encoder_pt(
    obj: dict[str, Any], path: Path, into: Encoder | None = None
) -> tuple[Encoder, dict[str, Any]]:
    enc = _build(obj["encoder"], obj["state_dict"], path, into)
    card = encoder_card(enc, obj.get("signal"), obj.get("method"), obj.get("preprocessing"),
                        obj.get("normalisation"), obj.get("dataset"))  # fmt: skip
    card["encoder"] = dict(obj["encoder"])  # the stored spec, also when loaded ``into``
    return enc, card
