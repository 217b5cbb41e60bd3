"""Export a pretrained encoder for use without ecgssl: TorchScript (+ ONNX) and a signal card.

The exported model maps a float32 (batch, leads, time) tensor in the units, lead order and
sampling rate written on its **signal card** (a JSON file beside it) to the same
(batch, output_dim) embeddings that :func:`ecgssl.embed` returns::

    paths = ecgssl.export(result, "model/bell")       # model/bell.pt + model/bell.json
    model, card = ecgssl.load_exported("model/bell.pt")
    features = model(torch.as_tensor(signals, dtype=torch.float32))

Anyone can load the ``.pt`` with plain ``torch.jit.load``; ecgssl is not needed there.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ecgssl import __version__
from ecgssl.encoders.base import Encoder
from ecgssl.training.checkpoint import plain_data
from ecgssl.training.encoder_files import read_encoder
from ecgssl.training.pretrainer import PretrainResult

__all__ = ["ExportedFiles", "export", "load_encoder_file", "load_exported", "signal_card"]

#: Version of the signal-card layout.
CARD_FORMAT = 1


@dataclass(frozen=True)
class ExportedFiles:
    """Paths written by :func:`export`.

    Attributes:
        torchscript: The TorchScript model (``torch.jit.load`` reads it).
        card: The JSON signal card.
        onnx: The ONNX model, or ``None`` when ``onnx`` is not installed or not asked for.
    """

    torchscript: Path
    card: Path
    onnx: Path | None = None


class _Embedder(nn.Module):
    """What :func:`ecgssl.embed` computes, as a module: the encoder's flat representation."""

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, x: Tensor) -> Tensor:
        return self.encoder.encode(x)


def signal_card(
    encoder: Encoder,
    signal: Mapping[str, Any] | None = None,
    method: Mapping[str, Any] | None = None,
    preprocessing: Any = None,
    normalisation: Any = None,
) -> dict[str, Any]:
    """The JSON-able description of what an encoder expects and what it returns.

    Args:
        encoder: The encoder.
        signal: Signal contract of the training data (``PretrainResult.signal`` or a
            checkpoint's ``"signal"``): ``fs``, ``leads``, ``window_samples``...
        method: ``{"name": ..., "hparams": {...}}`` of the pretraining method.
        preprocessing: How the training data were preprocessed (filters, resampling...).
        normalisation: How they were normalised (units, standardisation).
    """
    signal = dict(signal or {})
    return plain_data(
        {
            "format": CARD_FORMAT,
            "ecgssl_version": __version__,
            "torch_version": str(torch.__version__),
            "input": {
                "layout": "(batch, leads, time)",
                "dtype": "float32",
                "n_leads": encoder.n_leads,
                "input_length": encoder.input_length,
                "min_length": encoder.min_length,
            },
            "output": {"layout": "(batch, output_dim)", "output_dim": encoder.output_dim},
            "fs": signal.get("fs"),
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
            "encoder": encoder.config,
        },
        "signal card",
    )


def load_encoder_file(path: str | Path) -> tuple[Encoder, dict[str, Any]]:
    """The encoder and its card from an encoder folder, a checkpoint or a legacy encoder.pt.

    Same as :func:`ecgssl.training.read_encoder`.
    """
    return read_encoder(path)


def export(
    encoder: Encoder | PretrainResult | str | Path,
    path: str | Path,
    *,
    onnx: bool | None = None,
    example_length: int | None = None,
    card: Mapping[str, Any] | None = None,
) -> ExportedFiles:
    """Write ``encoder`` as TorchScript (``PATH.pt``), a signal card (``PATH.json``) and,
    when the ``onnx`` package is installed, ONNX (``PATH.onnx``).

    Args:
        encoder: An encoder, a :class:`PretrainResult` (its signal contract and method go on
            the card), or the path of a checkpoint / CLI ``encoder.pt``.
        path: Output path; a ``.pt``/``.json``/``.onnx`` suffix is replaced.
        onnx: ``None``: ONNX when ``onnx`` is installed; ``True``: required (``ImportError``
            if missing); ``False``: never.
        example_length: Samples of the example input used to trace the model (default: the
            training window, else the encoder's input length, else 2.5 s at the card's fs).
        card: Extra card entries (override the derived ones).

    Returns:
        The written paths.

    Example:
        >>> files = ecgssl.export(result, "exports/bell")
        >>> model = torch.jit.load(files.torchscript)
    """
    if isinstance(encoder, (str, Path)):
        enc, info = load_encoder_file(encoder)
    elif isinstance(encoder, PretrainResult):
        enc = encoder.encoder
        m = encoder.method
        info = signal_card(enc, encoder.signal, {"name": m.name, "hparams": m.hparams})
    elif isinstance(encoder, Encoder):
        enc, info = encoder, signal_card(encoder)
    else:
        raise TypeError(
            f"export expects an Encoder, a PretrainResult or a file path, got {type(encoder).__name__}"
        )
    info.update(plain_data(dict(card or {}), "card"))
    length = example_length or info.get("window_samples") or enc.input_length
    if length is None:
        length = round(2.5 * float(info.get("fs") or 100.0))
    length = max(int(length), enc.min_length)
    base = Path(path).expanduser()
    if base.suffix in (".pt", ".json", ".onnx"):
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)

    device = next(enc.parameters()).device
    was_training = enc.training
    module = _Embedder(enc).cpu().eval()
    example = torch.randn(2, enc.n_leads, length)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracing deprecation / tracer notes
            traced = torch.jit.trace(module, example)
        ts_path = base.with_suffix(".pt")
        traced.save(str(ts_path))
        onnx_path = _export_onnx(module, example, base.with_suffix(".onnx"), onnx)
    finally:
        enc.to(device).train(was_training)
    files = {"torchscript": ts_path.name, "onnx": onnx_path.name if onnx_path else None}
    info["files"] = files
    info["example_length"] = length
    card_path = base.with_suffix(".json")
    card_path.write_text(json.dumps(info, indent=2) + "\n")
    return ExportedFiles(torchscript=ts_path, card=card_path, onnx=onnx_path)


def _export_onnx(module: nn.Module, example: Tensor, path: Path, want: bool | None) -> Path | None:
    if want is False:
        return None
    try:
        import onnx  # noqa: F401
    except ImportError:
        if want:
            raise ImportError("ONNX export needs the onnx package: pip install onnx") from None
        return None
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, (example,), str(path), input_names=["ecg"], output_names=["embedding"],
            dynamic_axes={"ecg": {0: "batch", 2: "time"}, "embedding": {0: "batch"}},
        )  # fmt: skip
    return path


def load_exported(path: str | Path) -> tuple[torch.jit.ScriptModule, dict[str, Any]]:
    """Load an exported TorchScript model and its signal card.

    Args:
        path: The ``.pt`` written by :func:`export` (or the path without suffix).

    Returns:
        ``(model, card)``; ``model(x)`` with x a float32 (batch, leads, time) tensor returns the
        (batch, output_dim) embeddings.
    """
    base = Path(path).expanduser()
    if base.suffix in (".pt", ".json", ".onnx"):
        base = base.with_suffix("")
    ts, card_path = base.with_suffix(".pt"), base.with_suffix(".json")
    for p in (ts, card_path):
        if not p.is_file():
            raise FileNotFoundError(f"no exported file at {p}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch >= 2.10 deprecates jit.load
        model = torch.jit.load(str(ts), map_location="cpu")
    model.eval()
    card = json.loads(card_path.read_text())
    return model, card
