"""Export a pretrained encoder for use without ecgssl: a ``torch.export`` program or ONNX.

The exported model maps a float32 (batch, leads, time) tensor in the units, lead order and
sampling rate written on its **card** (a JSON file beside it) to the same (batch, output_dim)
embeddings that :func:`ecgssl.embed` returns::

    files = ecgssl.export(result, "model/bell")                  # model/bell.pt2 + bell.json
    model, card = ecgssl.load_exported(files.program)
    features = model(torch.as_tensor(signals, dtype=torch.float32))

    ecgssl.export(result, "model/bell", format="onnx")           # model/bell.onnx + bell.json

Plain PyTorch reads the ``.pt2`` (``torch.export.load(path).module()``) and ONNX Runtime the
``.onnx``; ecgssl is not needed there. The batch dimension is dynamic; so is time when the
encoder's graph allows it (the card's ``export.dynamic_time`` says; otherwise feed
``export.example_length`` samples).
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ecgssl.data.cache import atomic_write_bytes
from ecgssl.encoders.base import Encoder
from ecgssl.encoders.pretrained import encoder_card, json_ready
from ecgssl.errors import (
    DataNotFoundError,
    InvalidTypeError,
    InvalidValueError,
    MissingDependencyError,
)
from ecgssl.training.encoder_files import read_encoder
from ecgssl.training.pretrainer import PretrainResult

__all__ = ["EXPORT_FORMATS", "ExportedFiles", "export", "load_encoder_file", "load_exported",
           "signal_card"]  # fmt: skip

#: What :func:`export` writes: a ``torch.export`` program (``.pt2``) or ONNX (``.onnx``).
EXPORT_FORMATS = ("pt2", "onnx")
_SUFFIXES = (".pt2", ".onnx", ".json", ".pt")


@dataclass(frozen=True)
class ExportedFiles:
    """Paths written by :func:`export`.

    Attributes:
        program: The model: ``PATH.pt2`` (``torch.export.load``) or ``PATH.onnx``.
        card: The JSON card (``PATH.json``).
        format: ``"pt2"`` or ``"onnx"``.
    """

    program: Path
    card: Path
    format: str


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
    """Deprecated: use :func:`ecgssl.encoders.pretrained.encoder_card` (the same card)."""
    warnings.warn(
        "ecgssl.export.signal_card is deprecated; use ecgssl.encoders.pretrained.encoder_card",
        DeprecationWarning,
        stacklevel=2,
    )
    return encoder_card(encoder, signal, method, preprocessing, normalisation)


def load_encoder_file(path: str | Path) -> tuple[Encoder, dict[str, Any]]:
    """Deprecated: use :func:`ecgssl.training.read_encoder` (the same result)."""
    warnings.warn(
        "ecgssl.export.load_encoder_file is deprecated; use ecgssl.training.read_encoder",
        DeprecationWarning,
        stacklevel=2,
    )
    return read_encoder(path)


def _trace(module: nn.Module, example: Tensor, dynamic_time: bool) -> torch.export.ExportedProgram:
    dims = {0: torch.export.Dim("batch", min=1)}
    if dynamic_time:
        dims[2] = torch.export.Dim.DYNAMIC
    return torch.export.export(module, (example,), dynamic_shapes={"x": dims})


def _runs_at(program: torch.export.ExportedProgram, module: nn.Module, x: Tensor) -> bool:
    """Whether ``program`` accepts ``x`` and reproduces ``module`` on it."""
    try:
        got = program.module()(x)
    except (AssertionError, RuntimeError, ValueError):  # a guard: time was specialised
        return False
    return bool(torch.allclose(got, module(x), rtol=1e-4, atol=1e-5))


def _program(module: nn.Module, example: Tensor, fixed: bool) -> tuple[Any, bool]:
    """A program with a dynamic batch, and a dynamic time axis when the graph allows it."""
    if not fixed and hasattr(torch.export.Dim, "DYNAMIC"):  # torch >= 2.6
        program = _trace(module, example, dynamic_time=True)
        longer = torch.randn(1, example.shape[1], 2 * example.shape[2] + 1)
        if _runs_at(program, module, longer):
            return program, True
    return _trace(module, example, dynamic_time=False), False


@contextlib.contextmanager
def _quiet_onnx() -> Iterator[None]:
    """Silence the ONNX exporter's notes about optional packages and torch-internal warnings."""
    log = logging.getLogger("torch.onnx")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # torch's own exporter calls a pytree API that torch deprecates (torch 2.13)
            warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)`")
            yield
    finally:
        log.setLevel(level)


def _write_onnx(program: Any, example: Tensor, path: Path) -> None:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "ONNX export needs onnx and onnxscript: pip install 'ecgssl[onnx]'"
        ) from None
    with _quiet_onnx():
        onnx_program = torch.onnx.export(
            program, (example,), dynamo=True, input_names=["ecg"], output_names=["embedding"],
            verbose=False,
        )  # fmt: skip
    assert onnx_program is not None
    onnx_program.save(str(path))


def export(
    encoder: Encoder | PretrainResult | str | Path,
    path: str | Path,
    *,
    format: str = "pt2",
    example_length: int | None = None,
    card: Mapping[str, Any] | None = None,
) -> ExportedFiles:
    """Write ``encoder`` as a ``torch.export`` program (``PATH.pt2``) or ONNX (``PATH.onnx``),
    with its card (``PATH.json``).

    Args:
        encoder: An encoder, a :class:`PretrainResult` (its signal contract and method go on
            the card), or the path of an encoder folder, checkpoint or legacy ``encoder.pt``.
        path: Output path; a ``.pt2``/``.onnx``/``.json``/``.pt`` suffix is replaced.
        format: ``"pt2"`` (default; ``torch.export.save``) or ``"onnx"`` (the dynamo
            exporter, ``torch.onnx.export(..., dynamo=True)``; needs
            ``pip install 'ecgssl[onnx]'``).
        example_length: Samples of the example input the graph is captured with (default:
            the training window, else the encoder's input length, else 2.5 s at the card's
            fs). With a fixed time axis, the model accepts this length only.
        card: Extra card entries (override the derived ones).

    Returns:
        The written paths.

    Raises:
        ValueError: an unknown ``format``.
        ImportError: ``format="onnx"`` without onnx and onnxscript.

    Example:
        >>> files = ecgssl.export(result, "exports/bell")
        >>> model = torch.export.load(files.program).module()
    """
    if format not in EXPORT_FORMATS:
        raise InvalidValueError(f"format must be one of {list(EXPORT_FORMATS)}, got {format!r}")
    if isinstance(encoder, (str, Path)):
        enc, info = read_encoder(encoder)
    elif isinstance(encoder, PretrainResult):
        enc = encoder.encoder
        m, sig = encoder.method, encoder.signal
        info = encoder_card(enc, sig, {"name": m.name, "hparams": m.hparams},
                            dataset=encoder.metadata.get("dataset"))  # fmt: skip
    elif isinstance(encoder, Encoder):
        enc, info = encoder, encoder_card(encoder)
    else:
        raise InvalidTypeError(
            f"export expects an Encoder, a PretrainResult or a file path, got {type(encoder).__name__}"
        )
    info.update(json_ready(dict(card or {}), "card"))
    length = example_length or info.get("window_samples") or enc.input_length
    if length is None:
        length = round(2.5 * float(info.get("fs") or 100.0))
    length = max(int(length), enc.min_length)
    base = Path(path).expanduser()
    if base.suffix in _SUFFIXES:
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)

    device = next(enc.parameters()).device
    was_training = enc.training
    module = _Embedder(enc).cpu().eval()
    example = torch.randn(2, enc.n_leads, length)
    out = base.with_suffix("." + format)
    try:
        with torch.no_grad():
            program, dynamic_time = _program(module, example, enc.input_length is not None)
            if format == "pt2":
                torch.export.save(program, str(out))
            else:
                _write_onnx(program, example, out)
    finally:
        enc.to(device).train(was_training)
    info["export"] = {"format": format, "file": out.name, "example_length": length,
                      "dynamic_batch": True, "dynamic_time": dynamic_time,
                      "torch_version": str(torch.__version__)}  # fmt: skip
    card_path = base.with_suffix(".json")
    atomic_write_bytes(card_path, (json.dumps(info, indent=2) + "\n").encode())
    return ExportedFiles(program=out, card=card_path, format=format)


def load_exported(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Load an exported ``.pt2`` program and its card.

    Args:
        path: The ``.pt2`` written by :func:`export` (or the path without suffix).

    Returns:
        ``(model, card)``; ``model(x)`` with x a float32 (batch, leads, time) tensor returns the
        (batch, output_dim) embeddings.

    Raises:
        FileNotFoundError: the program or its card is missing.
        ValueError: an ONNX file (load it with ``onnxruntime.InferenceSession``) or a
            TorchScript ``.pt`` from an older ecgssl (load it with ``torch.jit.load``).
    """
    base = Path(path).expanduser()
    if base.suffix == ".onnx":
        raise InvalidValueError(
            f"{base} is ONNX: run it with onnxruntime.InferenceSession({str(base)!r})"
        )
    if base.suffix in _SUFFIXES:
        base = base.with_suffix("")
    program, card_path = base.with_suffix(".pt2"), base.with_suffix(".json")
    if not program.is_file() and base.with_suffix(".pt").is_file():
        raise InvalidValueError(
            f"{base.with_suffix('.pt')} is a TorchScript export of an older ecgssl: load it with "
            "torch.jit.load, or export again (ecgssl export ENCODER --out PATH)"
        )
    for p in (program, card_path):
        if not p.is_file():
            raise DataNotFoundError(f"no exported file at {p}")
    model = torch.export.load(str(program)).module()
    card = json.loads(card_path.read_text())
    return model, card
