"""The encoder folder: ``model.safetensors`` weights beside a ``config.json`` card.

One format for a trained encoder, laid out like a Hugging Face model folder::

    runs/bell/encoder/
        config.json         # encoder spec, fs, lead names, window, preprocessing, method, ...
        model.safetensors   # the state_dict: tensors only, no pickle, memory-mapped on load

Any tool reads it without ecgssl's help (``json`` + ``safetensors``); within ecgssl,
:meth:`Encoder.save_pretrained` writes it and :func:`ecgssl.load_encoder` reads it. Loading
never unpickles anything: a safetensors file holds only a JSON header and raw tensor bytes.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ecgssl.errors import DataNotFoundError, InvalidValueError
from ecgssl.validation import plain_value

if TYPE_CHECKING:
    from ecgssl.encoders.base import Encoder

__all__ = [
    "CARD_FORMAT",
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "EncoderFileError",
    "encoder_card",
    "is_pretrained_folder",
    "load_pretrained",
    "save_pretrained",
]

#: Name of the JSON card in an encoder folder (as on the Hugging Face hub).
CONFIG_NAME = "config.json"
#: Name of the weights file in an encoder folder (as on the Hugging Face hub).
WEIGHTS_NAME = "model.safetensors"
#: Version of the card layout (``config.json`` and the card of an export).
CARD_FORMAT = 1
_KIND = "ecgssl-encoder"


class EncoderFileError(InvalidValueError):
    """A path that should hold an ecgssl encoder holds something else, or a damaged file."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"not an ecgssl encoder file or corrupt: {path} ({reason})")
        self.path = Path(path)
        self.reason = reason


def json_ready(obj: Any, name: str = "value") -> Any:
    """A copy of ``obj`` that ``json.dumps`` writes: numpy values become Python ones, paths
    strings, tuples lists.

    Raises:
        TypeError: anything else (tensors, objects); the message names where it sits.
    """
    return plain_value(obj, name, store="a JSON card")


def encoder_card(
    encoder: Encoder,
    signal: Mapping[str, Any] | None = None,
    method: Mapping[str, Any] | None = None,
    preprocessing: Any = None,
    normalisation: Any = None,
    dataset: Any = None,
) -> dict[str, Any]:
    """The JSON description of what an encoder expects, returns and was trained on.

    Args:
        encoder: The encoder.
        signal: Signal contract of the training data (``PretrainResult.signal`` or a
            checkpoint's ``"signal"``): ``fs``, ``leads``, ``window_samples``...
        method: ``{"name": ..., "hparams": {...}}`` of the pretraining method.
        preprocessing: How the training data were preprocessed (filters, resampling...);
            default ``signal["preprocessing"]``.
        normalisation: How they were normalised; default ``signal["normalisation"]``.
        dataset: Name (or description) of the pretraining dataset.

    Returns:
        The card: ``format``, ``ecgssl_version``, ``encoder`` (the registry spec), ``fs``,
        ``leads``, ``window_seconds``, ``window_samples``, ``preprocessing``,
        ``normalisation``, ``method``, ``dataset``, ``input`` and ``output``.
    """
    from ecgssl import __version__

    signal = dict(signal or {})
    card = {
        "format": _KIND,
        "format_version": CARD_FORMAT,
        "ecgssl_version": __version__,
        "torch_version": str(torch.__version__),
        "encoder": encoder.config,
        "fs": signal.get("fs") if signal.get("fs") is not None else getattr(encoder, "fs", None),
        "leads": signal.get("leads"),
        "window_seconds": signal.get("window_seconds"),
        "window_samples": signal.get("window_samples"),
        "preprocessing": preprocessing
        if preprocessing is not None
        else signal.get("preprocessing"),
        "normalisation": normalisation
        if normalisation is not None
        else signal.get("normalisation"),
        "method": dict(method) if method is not None else None,
        "dataset": dataset,
        "input": {
            "layout": "(batch, leads, time)",
            "dtype": "float32",
            "n_leads": encoder.n_leads,
            "input_length": encoder.input_length,
            "min_length": encoder.min_length,
        },
        "output": {"layout": "(batch, output_dim)", "output_dim": encoder.output_dim},
    }
    return dict(json_ready(card, "card"))


def _atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Write through ``write(temporary name)`` and rename over ``path``: never a half file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _unique_tensors(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state dict as safetensors stores it: contiguous CPU tensors, shared ones copied."""
    seen: set[int] = set()
    out: dict[str, torch.Tensor] = {}
    for key, t in state.items():
        t = t.detach().cpu()
        ptr = t.untyped_storage().data_ptr()
        if t.numel() and ptr in seen:
            t = t.clone()  # safetensors refuses tensors that share memory
        seen.add(ptr)
        out[key] = t.contiguous()
    return out


def _write_text(path: str, text: str) -> None:
    Path(path).write_text(text)


def save_pretrained(encoder: Encoder, directory: str | Path, **card: Any) -> Path:
    """Write ``encoder`` as an encoder folder (``config.json`` + ``model.safetensors``).

    Args:
        encoder: The encoder.
        directory: The folder (created if missing; an existing card and weights are replaced,
            each file atomically).
        **card: What :func:`encoder_card` records besides the encoder: ``signal``,
            ``method``, ``preprocessing``, ``normalisation``, ``dataset``.

    Returns:
        The folder.
    """
    from safetensors.torch import save_file

    folder = Path(directory).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    info = encoder_card(encoder, **card)
    tensors = _unique_tensors(encoder.state_dict())
    meta = {"format": _KIND, "format_version": str(CARD_FORMAT)}
    _atomic_write(folder / WEIGHTS_NAME, lambda tmp: save_file(tensors, tmp, metadata=meta))
    text = json.dumps(info, indent=2) + "\n"
    _atomic_write(folder / CONFIG_NAME, lambda tmp: _write_text(tmp, text))
    return folder


def is_pretrained_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder with a ``config.json`` (an encoder folder, maybe damaged)."""
    return (Path(path) / CONFIG_NAME).is_file()


def _read_card(folder: Path) -> dict[str, Any]:
    config = folder / CONFIG_NAME
    try:
        card = json.loads(config.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EncoderFileError(config, f"unreadable JSON: {e}") from e
    if not isinstance(card, dict) or card.get("format") != _KIND:
        raise EncoderFileError(config, f'its "format" is not {_KIND!r}')
    if card.get("format_version") != CARD_FORMAT:
        raise EncoderFileError(
            config, f"card format {card.get('format_version')!r}, this ecgssl reads {CARD_FORMAT}"
        )
    if not isinstance(card.get("encoder"), dict) or "name" not in card["encoder"]:
        raise EncoderFileError(config, 'no "encoder" spec with a "name"')
    return card


def load_pretrained(
    directory: str | Path, map_location: str | torch.device = "cpu", into: Encoder | None = None
) -> tuple[Encoder, dict[str, Any]]:
    """Read an encoder folder written by :func:`save_pretrained`.

    Args:
        directory: The folder (or its ``config.json`` / ``model.safetensors``).
        map_location: Device for the weights.
        into: Load the weights into this encoder instead of building one from the card.

    Returns:
        ``(encoder, card)``; the encoder is in eval mode.

    Raises:
        FileNotFoundError: the folder or one of its two files is missing.
        EncoderFileError: a file is damaged or not ecgssl's, or the weights do not fit the
            encoder the card describes.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from ecgssl.encoders.base import Encoder
    from ecgssl.encoders.wrapped import check_rebuildable
    from ecgssl.registry import ENCODERS

    folder = Path(directory).expanduser()
    if folder.name in (CONFIG_NAME, WEIGHTS_NAME):
        folder = folder.parent
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        if not (folder / name).is_file():
            raise DataNotFoundError(f"no {name} in encoder folder {folder}")
    card = _read_card(folder)
    weights = folder / WEIGHTS_NAME
    try:
        state = load_file(weights, device=str(map_location))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise EncoderFileError(weights, f"unreadable safetensors: {e}") from e
    if into is not None:  # e.g. a wrapped model, which cannot be rebuilt from its spec
        try:
            into.load_state_dict(state)
        except RuntimeError as e:
            raise EncoderFileError(weights, f"weights do not fit the given encoder: {e}") from e
        return into.to(map_location).eval(), card
    check_rebuildable(card["encoder"], f"the encoder in {folder}")
    try:
        enc = ENCODERS.build(dict(card["encoder"]))
    except (KeyError, TypeError, ValueError) as e:
        raise EncoderFileError(folder / CONFIG_NAME, f"cannot build its encoder: {e}") from e
    if not isinstance(enc, Encoder):
        raise EncoderFileError(folder / CONFIG_NAME, f"{card['encoder']!r} built no Encoder")
    try:
        enc.load_state_dict(state)
    except RuntimeError as e:
        raise EncoderFileError(weights, f"weights do not fit {card['encoder']!r}: {e}") from e
    return enc.to(map_location).eval(), card
