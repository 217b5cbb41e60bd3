"""Encoder base class: every encoder declares its signal contract.

An encoder maps a (batch, leads, time) signal to a (batch, output_dim) representation.
Multi-branch encoders also expose per-lead latents (batch, leads, per_lead_dim) through
:meth:`Encoder.forward_leads`, which lead-aware methods such as BELL use.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from ecgssl.encoders.checkpointing import checkpointed, wants_checkpoint
from ecgssl.errors import InvalidTypeError, InvalidValueError
from ecgssl.validation import check_signal

__all__ = ["Encoder"]


class Encoder(nn.Module):
    """Base class for ECG encoders.

    Subclasses set the contract attributes in ``__init__`` and implement :meth:`encode`.
    Constructor arguments must be JSON-serialisable; subclasses store them with
    :meth:`_remember_config` so that a checkpoint can rebuild the encoder.

    Attributes:
        n_leads: Number of input leads the encoder accepts.
        input_length: Exact number of input samples required, or ``None`` for any length.
        min_length: Smallest input length (samples) the encoder can process.
        output_dim: Size of the flat representation returned by :meth:`forward`.
        per_lead_dim: Size of each per-lead latent for multi-branch encoders, else ``None``.
        fs: Sampling rate (Hz) the encoder was declared for (models wrapped with
            :func:`~ecgssl.encoders.wrap_model`), or ``None`` for any rate.
        supports_checkpointing: Whether :meth:`set_checkpointing` can turn activation
            checkpointing on (the encoder runs its blocks through :meth:`run_block`).
    """

    n_leads: int
    input_length: int | None = None
    min_length: int = 1
    output_dim: int
    per_lead_dim: int | None = None
    fs: float | None = None
    supports_checkpointing: bool = False
    _checkpointing: bool = False  # a class default: encoders unpickled from older ecgssl

    def __init__(self) -> None:
        super().__init__()
        self._config: dict[str, Any] = {}

    def _remember_config(self, name: str, **kwargs: Any) -> None:
        self._config = {"name": name, **kwargs}

    @property
    def config(self) -> dict[str, Any]:
        """The registry spec (``{"name": ..., **kwargs}``) that rebuilds this encoder."""
        return dict(self._config)

    def save_pretrained(
        self,
        directory: str | Path,
        *,
        signal: Mapping[str, Any] | None = None,
        method: Mapping[str, Any] | None = None,
        preprocessing: Any = None,
        normalisation: Any = None,
        dataset: Any = None,
    ) -> Path:
        """Write this encoder as a folder: ``model.safetensors`` + a ``config.json`` card.

        The folder is laid out like a Hugging Face model folder; :func:`ecgssl.load_encoder`
        reads it back (weights bit for bit), and any tool reads it with ``json`` and
        ``safetensors``, without unpickling anything.

        Args:
            directory: The folder (created if missing; its card and weights are replaced).
            signal: Signal contract of the training data (``fs``, ``leads``,
                ``window_seconds``, ``window_samples``...), e.g. ``PretrainResult.signal``.
            method: ``{"name": ..., "hparams": {...}}`` of the pretraining method.
            preprocessing: How the training data were filtered and resampled.
            normalisation: How they were scaled.
            dataset: Name of the pretraining dataset.

        Returns:
            The folder.

        Example:
            >>> encoder.save_pretrained("runs/bell/encoder", signal={"fs": 100.0})
            >>> same = ecgssl.load_encoder("runs/bell/encoder")
        """
        from ecgssl.encoders.pretrained import save_pretrained

        return save_pretrained(
            self, directory, signal=signal, method=method, preprocessing=preprocessing,
            normalisation=normalisation, dataset=dataset,
        )  # fmt: skip

    @property
    def checkpointing(self) -> bool:
        """Whether activation checkpointing is on (see :meth:`set_checkpointing`)."""
        return self._checkpointing

    def set_checkpointing(self, enabled: bool = True) -> Encoder:
        """Turn activation checkpointing of the encoder's blocks on or off.

        When on, every block keeps only its input during a training forward pass and is
        recomputed in backward (:mod:`ecgssl.encoders.checkpointing`): much less memory for
        about one more forward pass of compute, with the same gradients. It applies only in
        training mode with autograd recording, so EMA targets (run under ``no_grad``) and
        embedding are unaffected. ``PretrainConfig(activation_checkpointing=True)`` turns it
        on for a training run.

        Returns:
            The encoder itself.

        Raises:
            TypeError: turning it on for an encoder that does not support it.
        """
        if not isinstance(enabled, bool):
            raise InvalidTypeError(f"enabled must be True or False, got {enabled!r}")
        if enabled and not self.supports_checkpointing:
            raise InvalidTypeError(
                f"{type(self).__name__} does not support activation checkpointing; use a "
                "built-in encoder (multibranch, resnet1d, inception1d) or checkpoint the "
                "wrapped model's blocks with torch.utils.checkpoint yourself"
            )
        self._checkpointing = enabled
        return self

    def run_block(self, fn: Callable[..., Tensor], block: nn.Module, *args: Any) -> Tensor:
        """``fn(*args)``, checkpointed when :attr:`checkpointing` is on, the encoder is in
        training mode and autograd records (:func:`~ecgssl.encoders.checkpointing.checkpointed`).

        Args:
            fn: The block's forward (``block`` itself or one of its methods).
            block: The module holding the parameters and BatchNorm layers ``fn`` uses.
            *args: Its arguments.
        """
        if wants_checkpoint(self._checkpointing, self):
            return checkpointed(fn, block, *args)
        return fn(*args)

    @property
    def is_multibranch(self) -> bool:
        """Whether the encoder produces per-lead latents."""
        return self.per_lead_dim is not None

    def check_input(self, x: Tensor) -> Tensor:
        """Validate ``x`` against the contract and return it (raises ``ValueError``)."""
        check_signal(
            x,
            name=f"input to {type(self).__name__}",
            n_leads=self.n_leads,
            length=self.input_length,
            min_length=self.min_length,
            finite=False,
        )
        return x

    def check_fs(self, fs: float | None, what: str = "the data") -> None:
        """Refuse data at another sampling rate than the declared :attr:`fs` (``ValueError``).

        Nothing is checked when either rate is ``None`` (not declared, or unknown).
        """
        if self.fs is None or fs is None or math.isclose(float(self.fs), float(fs)):
            return
        raise InvalidValueError(
            f"{what} are sampled at {float(fs):g} Hz but the encoder was declared for "
            f"{float(self.fs):g} Hz; resample the data (e.g. load_dataset(..., fs="
            f"{float(self.fs):g})) or declare the encoder for {float(fs):g} Hz"
        )

    def forward(self, x: Tensor) -> Tensor:
        """(batch, leads, time) -> (batch, output_dim)."""
        return self.encode(self.check_input(x))

    def encode(self, x: Tensor) -> Tensor:
        """Compute the flat representation of an already-validated input."""
        raise NotImplementedError

    def forward_leads(self, x: Tensor) -> Tensor:
        """(batch, leads, time) -> per-lead latents (batch, leads, per_lead_dim).

        Raises:
            TypeError: the encoder is not multi-branch.
        """
        raise InvalidTypeError(
            f"{type(self).__name__} is not a multi-branch encoder and has no per-lead latents; "
            "use encoder='multibranch' for lead-aware methods such as BELL"
        )
