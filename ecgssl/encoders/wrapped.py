"""Bring your own model: any ``nn.Module`` as an ecgssl :class:`~ecgssl.encoders.Encoder`.

:func:`wrap_model` gives a module that maps (batch, leads, time) signals to features the
signal contract every ecgssl encoder declares (leads, sampling rate, input lengths, output
size) and checks the module against it with a dry forward pass, so that a braindecode or
torch_ecg model, or your own, can be pretrained with any method and evaluated::

    enc = ecgssl.wrap_model(MyNet(), output_dim=128, n_leads=12, fs=100)
    result = ecgssl.pretrain("simclr", "synthetic", encoder=enc)

A module returning per-lead features (batch, leads, D) is wrapped with ``per_lead=True``;
its encoder then also serves the lead-wise methods (BELL, lead_barlow, CLOCS' lead modes).

A wrapped model cannot be rebuilt from a JSON spec: checkpoints hold its weights and its
declared contract, and loading them needs the module again
(``ecgssl.load_encoder(path, encoder=ecgssl.wrap_model(MyNet(), ...))``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ecgssl.encoders.base import Encoder
from ecgssl.encoders.layers import check_int
from ecgssl.errors import InvalidTypeError, InvalidValueError
from ecgssl.validation import check_positive

__all__ = ["WRAPPED", "WrappedEncoder", "check_rebuildable", "wrap_model"]

#: ``config["name"]`` of every wrapped encoder; no registered factory can rebuild it.
WRAPPED = "wrapped"

_DRY_BATCH = 2  # BatchNorm in training mode needs more than one sample; eval mode is used
_DRY_SECONDS = 2.5  # length of the dry-run input when the module accepts any length


class WrappedEncoder(Encoder):
    """An encoder around a user's ``nn.Module``, with a declared and checked signal contract.

    Build it with :func:`wrap_model`, which documents the arguments. The module's parameters
    are the encoder's (``state_dict`` keys start with ``module.``).

    Attributes:
        module: The wrapped module.
        per_lead: Whether the module returns per-lead features (batch, leads, per_lead_dim).
    """

    def __init__(
        self,
        module: nn.Module,
        *,
        output_dim: int,
        n_leads: int,
        fs: float | None,
        per_lead: bool = False,
        min_length: int = 1,
        input_length: int | None = None,
        check: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise InvalidTypeError(
                f"wrap_model needs a torch.nn.Module, got {type(module).__name__}"
            )
        if isinstance(module, Encoder):
            raise InvalidTypeError(
                f"{type(module).__name__} is already an ecgssl Encoder; pass it directly"
            )
        if next(module.parameters(), None) is None:
            raise InvalidValueError(
                f"{type(module).__name__} has no parameters: there is nothing to pretrain"
            )
        check_int(output_dim, "output_dim")
        check_int(n_leads, "n_leads")
        check_int(min_length, "min_length")
        if input_length is not None:
            check_int(input_length, "input_length", minimum=min_length)
        if fs is not None:
            fs = float(check_positive(fs, "fs"))
        self.module = module
        self.per_lead = bool(per_lead)
        self.n_leads = n_leads
        self.fs = fs
        self.min_length = min_length
        self.input_length = input_length
        self.per_lead_dim = output_dim if self.per_lead else None
        self.output_dim = n_leads * output_dim if self.per_lead else output_dim
        self._feature_shape = (n_leads, output_dim) if self.per_lead else (output_dim,)
        self._remember_config(
            WRAPPED, module=type(module).__qualname__, n_leads=n_leads, output_dim=output_dim,
            per_lead=self.per_lead, fs=fs, min_length=min_length, input_length=input_length,
        )  # fmt: skip
        if check:
            self.dry_run()

    # -- the contract, checked once ---------------------------------------------------------
    def _expected(self, batch: int) -> str:
        if self.per_lead:
            shape = f"({batch}, {self.n_leads}, {self.per_lead_dim})"
            return f"{shape} (batch, leads, per-lead features)"
        return f"({batch}, {self.output_dim}) (batch, output_dim)"

    def _features(self, x: Tensor) -> Tensor:
        """Run the module on a validated input and check what it returns."""
        return self._checked(tuple(x.shape), self.module(x))

    def _checked(self, shape_in: tuple[int, ...], out: Any) -> Tensor:
        if not isinstance(out, Tensor):
            raise InvalidTypeError(
                f"{type(self.module).__name__} returned a {type(out).__name__}, not a tensor; "
                "wrap a module that returns only the features (e.g. a small nn.Module that "
                "picks them from the output)"
            )
        want = (shape_in[0], *self._feature_shape)
        got = tuple(out.shape)
        if got == want:
            return out
        msg = (
            f"{type(self.module).__name__} maps a {shape_in} input to {got}, but the wrapper "
            f"declares {self._expected(shape_in[0])}"
        )
        if not self.per_lead and len(got) == 3 and got[:2] == (shape_in[0], self.n_leads):
            msg += (
                f"; if these are per-lead features, pass per_lead=True, output_dim={got[2]}; "
                "if the last axis is time, pool over it first"
            )
        elif self.per_lead and len(got) == 2 and got[0] == shape_in[0]:
            msg += f"; for flat features pass per_lead=False, output_dim={got[1]}"
        elif len(got) == len(want) and got[:-1] == want[:-1]:
            msg += f"; pass output_dim={got[-1]}"
        elif not self.per_lead and len(got) == 3:
            msg += "; pool over time first (e.g. nn.AdaptiveAvgPool1d(1) + nn.Flatten())"
        raise InvalidValueError(msg)

    def dry_lengths(self) -> list[int]:
        """Input lengths of the dry run: the exact length, or a typical and an odd longer one."""
        if self.input_length is not None:
            return [self.input_length]
        base = max(self.min_length, round(_DRY_SECONDS * (self.fs or 100.0)))
        return [base, base + base // 2 + 1]  # a second length: features must not depend on it

    @torch.no_grad()
    def dry_run(self) -> None:
        """Run the module in eval mode on random inputs of :meth:`dry_lengths` and check its output.

        Raises:
            ValueError: the module fails on the declared input or returns another shape, or
                non-finite features.
            TypeError: the module returns something other than a tensor.
        """
        param = next(self.module.parameters())
        dtype = param.dtype if param.is_floating_point() else torch.float32
        was_training = self.module.training
        self.module.eval()
        try:
            for n in self.dry_lengths():
                shape = (_DRY_BATCH, self.n_leads, n)
                x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
                try:
                    out = self.module(x.to(param.device, dtype))
                except Exception as e:
                    raise InvalidValueError(
                        f"dry forward pass of {type(self.module).__name__} on a {shape} "
                        f"(batch, leads, time) input failed: {type(e).__name__}: {e}. "
                        f"{self._length_hint()}"
                    ) from e
                try:
                    self._checked(shape, out)
                except ValueError as e:
                    if n == self.dry_lengths()[0]:
                        raise
                    raise InvalidValueError(
                        f"{e} (at {n} samples, but not at {self.dry_lengths()[0]}: its features "
                        "depend on the input length; pool over time, or declare input_length=)"
                    ) from None
                if not bool(torch.isfinite(out).all()):
                    raise InvalidValueError(
                        f"{type(self.module).__name__} returned non-finite features on a "
                        f"random {shape} input"
                    )
        finally:
            self.module.train(was_training)

    def _length_hint(self) -> str:
        if self.input_length is not None:
            return f"It was declared with input_length={self.input_length}."
        return (
            "The wrapper declares that it accepts any length from min_length="
            f"{self.min_length}; for a fixed-length model pass input_length=, for a deep one "
            "a larger min_length="
        )

    # -- the Encoder interface -----------------------------------------------------------------
    def encode(self, x: Tensor) -> Tensor:
        """(batch, leads, time) -> (batch, output_dim); per-lead features are concatenated."""
        out = self._features(x)
        return out.flatten(1) if self.per_lead else out

    def forward_leads(self, x: Tensor) -> Tensor:
        """(batch, leads, time) -> (batch, leads, per_lead_dim) (``per_lead=True`` only).

        Raises:
            TypeError: the module was wrapped with ``per_lead=False``.
        """
        if not self.per_lead:
            raise InvalidTypeError(
                f"the wrapped {type(self.module).__name__} returns flat features; lead-wise "
                "methods (BELL, lead_barlow, CLOCS cmlc/cmsmlc) need a module that returns "
                "(batch, leads, D), wrapped with per_lead=True"
            )
        return self._features(self.check_input(x))

    def extra_repr(self) -> str:
        fs = "any" if self.fs is None else f"{self.fs:g} Hz"
        kind = f"per_lead_dim={self.per_lead_dim}" if self.per_lead else "flat"
        return f"n_leads={self.n_leads}, fs={fs}, output_dim={self.output_dim}, {kind}"


def wrap_model(
    module: nn.Module,
    *,
    output_dim: int,
    n_leads: int,
    fs: float | None,
    per_lead: bool = False,
    min_length: int = 1,
    input_length: int | None = None,
) -> WrappedEncoder:
    """Turn any ``nn.Module`` on (batch, leads, time) signals into an ecgssl encoder.

    The module is checked at once with a dry forward pass (eval mode, no gradients) on random
    (2, n_leads, time) inputs: at ``input_length`` when given, else at two lengths (2.5 s at
    ``fs`` and a longer odd one), so that a module whose features depend on the input length
    is caught here rather than at evaluation, which embeds whole records.

    Args:
        module: Maps float (batch, leads, time) to features (batch, output_dim), or with
            ``per_lead=True`` to per-lead features (batch, leads, output_dim).
        output_dim: Size of the module's last output axis: the representation size, or each
            lead's feature size with ``per_lead=True`` (the flat representation is then
            ``n_leads * output_dim``, the per-lead features concatenated).
        n_leads: Number of input leads.
        fs: Sampling rate (Hz) the model is meant for: pretraining and evaluation refuse data
            at another rate. ``None`` accepts any rate.
        per_lead: The module returns (batch, leads, output_dim), which lead-wise methods such
            as BELL, lead_barlow and CLOCS' lead modes need.
        min_length: Shortest input (samples) the module accepts.
        input_length: Exact input length (samples) the module needs (``None``: any length
            from ``min_length``).

    Returns:
        A :class:`WrappedEncoder`; the module is its submodule (weights shared, not copied).

    Raises:
        TypeError: ``module`` is not an ``nn.Module`` or returns something else than a tensor.
        ValueError: a bad declared value, or the dry run fails or returns another shape; the
            message names the input and output shapes and, where it can tell, the fix.

    Example:
        >>> net = nn.Sequential(nn.Conv1d(12, 32, 7), nn.ReLU(), nn.AdaptiveAvgPool1d(1),
        ...                     nn.Flatten())
        >>> enc = ecgssl.wrap_model(net, output_dim=32, n_leads=12, fs=100)
        >>> result = ecgssl.pretrain("simclr", encoder=enc, steps=100)
        >>> ecgssl.evaluate(result).macro_auroc
    """
    return WrappedEncoder(
        module, output_dim=output_dim, n_leads=n_leads, fs=fs, per_lead=per_lead,
        min_length=min_length, input_length=input_length,
    )  # fmt: skip


def check_rebuildable(spec: Mapping[str, Any], where: str = "this encoder") -> None:
    """Refuse to rebuild a wrapped encoder from its config, saying how to load it instead.

    Args:
        spec: An encoder config (``{"name": ..., **kwargs}``), e.g. a checkpoint's.
        where: What holds the spec, for the message (a checkpoint path...).

    Raises:
        ValueError: ``spec`` describes a model wrapped with :func:`wrap_model`.
    """
    if spec.get("name") != WRAPPED:
        return
    args = ", ".join(
        f"{k}={spec[k]!r}" for k in ("output_dim", "n_leads", "fs", "per_lead") if k in spec
    )
    extra = {k: spec[k] for k in ("min_length", "input_length") if spec.get(k) not in (None, 1)}
    args += "".join(f", {k}={v!r}" for k, v in extra.items())
    raise InvalidValueError(
        f"{where} is a wrapped {spec.get('module', 'nn.Module')} (ecgssl.wrap_model), which "
        "cannot be rebuilt from its config: build the module again, wrap it with "
        f"ecgssl.wrap_model({spec.get('module', 'Model')}(...), {args}) and pass that "
        "(to load a checkpoint's weights into it: ecgssl.load_encoder(path, encoder=...))"
    )
