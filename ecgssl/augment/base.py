"""Base class, random-parameter helpers and combinators for batched ECG augmentations.

Every augmentation is a callable ``aug(x, fs, generator=None) -> Tensor`` on a
(batch, leads, time) tensor. Parameters are given in physical units (seconds, Hz, mV)
and converted with the sampling rate ``fs`` passed at call time, so one pipeline works
for 100 Hz and 500 Hz data alike. Random parameters are drawn *per sample* as tensors
from ``generator`` and applied in one batched operation: no per-sample Python loops.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from ecgssl.errors import InvalidTypeError, InvalidValueError
from ecgssl.registry import AUGMENTATIONS
from ecgssl.validation import check_in_range, check_positive, check_signal

__all__ = [
    "Augmentation",
    "Compose",
    "ElementwiseAugmentation",
    "MaskFn",
    "OneOf",
    "RandomApply",
    "TwoViews",
    "add_",
    "addcmul_",
    "build_augmentation",
    "masked_gain",
    "masked_level",
    "rand",
    "randint",
    "randn",
    "scale_",
    "uniform",
]


MaskFn = Callable[[], Tensor]


def _gen_device(generator: torch.Generator | None, device: torch.device) -> torch.device:
    return generator.device if generator is not None else device


def rand(shape: Sequence[int], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Uniform [0, 1) samples drawn on the generator's device, returned on ``device``."""
    out = torch.rand(tuple(shape), generator=generator, device=_gen_device(generator, device))
    return out.to(device)


def randn(shape: Sequence[int], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Standard normal samples drawn on the generator's device, returned on ``device``."""
    out = torch.randn(tuple(shape), generator=generator, device=_gen_device(generator, device))
    return out.to(device)


def uniform(
    low: float | Tensor,
    high: float | Tensor,
    shape: Sequence[int],
    generator: torch.Generator | None,
    device: torch.device,
) -> Tensor:
    """Uniform samples in ``[low, high)``, per element of ``shape``."""
    return low + (high - low) * rand(shape, generator, device)


def randint(
    low: int,
    high: Tensor | int,
    shape: Sequence[int],
    generator: torch.Generator | None,
    device: torch.device,
) -> Tensor:
    """Integers uniform in ``[low, high]`` (inclusive); ``high`` may be a per-sample tensor."""
    u = rand(shape, generator, device)
    high_t = torch.as_tensor(high, device=device, dtype=torch.float32)
    return (low + torch.floor(u * (high_t - low + 1))).long().clamp_max(high_t.long())


class Augmentation:
    """Base class: a batched, device-agnostic transform of (batch, leads, time) tensors.

    Subclasses implement :meth:`apply`, drawing one set of parameters per sample from
    ``generator``. :meth:`__call__` validates the input first.

    Attributes:
        min_leads: Smallest number of leads the augmentation accepts.
        n_leads: Exact number of leads required (``None`` for any), e.g. 12 for VCG ops.
        changes_length: Whether the output length may differ from the input length.
    """

    n_leads: int | None = None
    changes_length: bool = False

    def __call__(self, x: Tensor, fs: float, generator: torch.Generator | None = None) -> Tensor:
        check_positive(fs, "fs (sampling rate, Hz)")
        check_signal(x, name=f"input to {type(self).__name__}", n_leads=self.n_leads, finite=False)
        return self.apply(x, float(fs), generator)

    def apply(self, x: Tensor, fs: float, generator: torch.Generator | None) -> Tensor:
        """Transform ``x`` (batch, leads, time) sampled at ``fs`` Hz."""
        raise NotImplementedError

    def apply_owned(self, x: Tensor, fs: float, generator: torch.Generator | None) -> Tensor:
        """Like :meth:`apply`, for an ``x`` the caller owns and will not read again.

        :class:`Compose` calls this once an earlier op produced a fresh tensor, so that
        elementwise ops can write into it instead of allocating another (batch, leads, time)
        buffer. The default calls :meth:`apply`.
        """
        return self.apply(x, fs, generator)

    def apply_masked(
        self,
        x: Tensor,
        fs: float,
        generator: torch.Generator | None,
        draw_mask: MaskFn,
        owned: bool = False,
    ) -> Tensor:
        """Transform only the samples selected by a per-sample mask (:class:`RandomApply`).

        ``draw_mask()`` returns a boolean (batch, 1, 1) tensor; the other samples keep ``x``.
        The default runs :meth:`apply` on the whole batch and selects with ``torch.where``;
        :class:`ElementwiseAugmentation` folds the mask into its per-sample parameters.
        ``owned`` is as in :meth:`apply_owned`.
        """
        out = self.apply(x, fs, generator)
        return torch.where(draw_mask(), out, x)

    def min_length(self, fs: float) -> int:
        """Smallest input length (samples) this augmentation accepts at ``fs``."""
        return 1

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class ElementwiseAugmentation(Augmentation):
    """Base for ops that act on each sample through small per-sample parameters.

    Gains, offsets, masks and additive noise: the output is ``x * gain + noise`` with ``gain``
    and the noise level drawn per sample (or per lead). Subclasses implement
    :meth:`transform`, which gives three fast paths for free:

    - :class:`RandomApply` folds its per-sample mask into those parameters (a gain of 1, a
      noise level of 0) instead of computing the op for the whole batch and selecting with
      ``torch.where``, one full pass less;
    - :class:`Compose` lets the op write into a buffer that an earlier op created
      (``inplace=True``) instead of allocating a new one. On CPU, fresh multi-megabyte
      buffers cost page faults that take longer than the arithmetic;
    - both paths draw the same random numbers in the same order, so the output is the same.
    """

    def transform(
        self,
        x: Tensor,
        fs: float,
        generator: torch.Generator | None,
        draw_mask: MaskFn | None,
        inplace: bool,
    ) -> Tensor:
        """Apply the op; ``draw_mask`` (if given) must be called after every other draw.

        Args:
            x: (batch, leads, time) signal.
            fs: Sampling rate in Hz.
            generator: Source of randomness.
            draw_mask: ``None`` (every sample), or a function returning the boolean
                (batch, 1, 1) mask of samples to transform.
            inplace: Whether ``x`` may be overwritten.
        """
        raise NotImplementedError

    def apply(self, x: Tensor, fs: float, generator: torch.Generator | None) -> Tensor:
        return self.transform(x, fs, generator, None, False)

    def apply_owned(self, x: Tensor, fs: float, generator: torch.Generator | None) -> Tensor:
        return self.transform(x, fs, generator, None, True)

    def apply_masked(
        self,
        x: Tensor,
        fs: float,
        generator: torch.Generator | None,
        draw_mask: MaskFn,
        owned: bool = False,
    ) -> Tensor:
        return self.transform(x, fs, generator, draw_mask, owned)


def scale_(x: Tensor, factor: Tensor, inplace: bool) -> Tensor:
    """``x * factor``, written into ``x`` when ``inplace``."""
    return x.mul_(factor) if inplace else x * factor


def add_(x: Tensor, term: Tensor, inplace: bool) -> Tensor:
    """``x + term``, written into ``x`` when ``inplace``."""
    return x.add_(term) if inplace else x + term


def addcmul_(x: Tensor, a: Tensor, b: Tensor, inplace: bool) -> Tensor:
    """``x + a * b``, written into ``x`` when ``inplace``."""
    return x.addcmul_(a, b) if inplace else torch.addcmul(x, a, b)


def masked_level(level: Tensor, draw_mask: MaskFn | None) -> Tensor:
    """A per-sample noise level or offset, zeroed where the mask leaves the sample alone."""
    return level if draw_mask is None else level * draw_mask().to(level.dtype)


def masked_gain(gain: Tensor, draw_mask: MaskFn | None) -> Tensor:
    """A per-sample gain, set to 1 where the mask leaves the sample alone."""
    if draw_mask is None:
        return gain
    return torch.where(draw_mask(), gain, torch.ones((), dtype=gain.dtype, device=gain.device))


AugSpec = Augmentation | str | Mapping[str, Any]


def build_augmentation(spec: AugSpec | Sequence[AugSpec]) -> Augmentation:
    """Build an augmentation from an instance, a registered name, a spec dict or a list.

    A list becomes a :class:`Compose` of its elements.
    """
    if isinstance(spec, Augmentation):
        return spec
    if isinstance(spec, (str, Mapping)):
        aug = AUGMENTATIONS.build(spec)
        if not isinstance(aug, Augmentation):
            raise InvalidTypeError(f"augmentation spec {spec!r} built {type(aug).__name__}")
        return aug
    if isinstance(spec, Sequence):
        return Compose([build_augmentation(s) for s in spec])
    raise InvalidTypeError(f"cannot build an augmentation from {type(spec).__name__}")


@AUGMENTATIONS.register("compose")
class Compose(Augmentation):
    """Apply augmentations one after the other.

    Args:
        transforms: Augmentations (instances, names or spec dicts), applied in order.
    """

    def __init__(self, transforms: Sequence[AugSpec]) -> None:
        self.transforms = [build_augmentation(t) for t in transforms]
        self.changes_length = any(t.changes_length for t in self.transforms)
        leads = {t.n_leads for t in self.transforms if t.n_leads is not None}
        if len(leads) > 1:
            raise InvalidValueError(
                f"Compose mixes augmentations requiring different lead counts {leads}"
            )
        self.n_leads = leads.pop() if leads else None

    def apply(self, x: Tensor, fs: float, generator: torch.Generator | None) -> Tensor:
        return self._run(x, fs, generator, owned=False)

    def apply_owned(self, x: Tensor, fs: float, generator: torch.Generator | None) -> Tensor:
        return self._run(x, fs, generator, owned=True)

    def _run(self, x: Tensor, fs: float, generator: torch.Generator | None, owned: bool) -> Tensor:
        source = x
        for t in self.transforms:
            if owned:
                x = t.apply_owned(x, fs, generator)
            else:
                x = t(x, fs, generator)
                # Once an op returns new memory, later ops may write into it.
                owned = x.is_contiguous() and not _shares_memory(x, source)
        return x

    def min_length(self, fs: float) -> int:
        return max((t.min_length(fs) for t in self.transforms), default=1)

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(t) for t in self.transforms)
        return f"Compose([\n  {inner}\n])"


@AUGMENTATIONS.register("random_apply")
class RandomApply(Augmentation):
    """Apply ``transform`` to each sample independently with probability ``p``.

    The transform runs on the whole batch once and a per-sample mask selects its output,
    so it stays batched. It must not change the signal length.

    Args:
        transform: The augmentation to apply.
        p: Probability, per sample, of applying it.
    """

    def __init__(self, transform: AugSpec, p: float = 0.5) -> None:
        self.transform = build_augmentation(transform)
        if self.transform.changes_length:
            raise InvalidValueError(
                f"RandomApply cannot wrap {type(self.transform).__name__}, which changes the "
                "signal length; apply crops unconditionally"
            )
        self.p = check_in_range(p, "p", 0.0, 1.0)
        self.n_leads = self.transform.n_leads

    def apply(self, x: Tensor, fs: float, generator: torch.Generator | None) -> Tensor:
        return self._run(x, fs, generator, owned=False)

    def apply_owned(self, x: Tensor, fs: float, generator: torch.Generator | None) -> Tensor:
        return self._run(x, fs, generator, owned=True)

    def _run(self, x: Tensor, fs: float, generator: torch.Generator | None, owned: bool) -> Tensor:
        if self.p == 0.0:
            return x
        if self.p == 1.0:
            if owned:
                return self.transform.apply_owned(x, fs, generator)
            return self.transform(x, fs, generator)
        # ``__call__`` validated x (with the wrapped transform's lead count).
        p, b = self.p, x.shape[0]
        return self.transform.apply_masked(
            x, fs, generator, lambda: rand((b, 1, 1), generator, x.device) < p, owned
        )

    def min_length(self, fs: float) -> int:
        return self.transform.min_length(fs)


@AUGMENTATIONS.register("one_of")
class OneOf(Augmentation):
    """Apply exactly one of ``transforms`` to each sample, chosen per sample.

    Every transform runs on the whole batch and the per-sample choice selects the output,
    so the cost is the sum of the transforms' costs. None may change the signal length.

    Args:
        transforms: Candidate augmentations.
        weights: Relative selection weights (uniform by default).
    """

    def __init__(
        self, transforms: Sequence[AugSpec], weights: Sequence[float] | None = None
    ) -> None:
        self.transforms = [build_augmentation(t) for t in transforms]
        if not self.transforms:
            raise InvalidValueError("OneOf needs at least one transform")
        if any(t.changes_length for t in self.transforms):
            raise InvalidValueError("OneOf cannot hold augmentations that change the signal length")
        w = [1.0] * len(self.transforms) if weights is None else [float(v) for v in weights]
        bad = any(v < 0 or not math.isfinite(v) for v in w)
        if len(w) != len(self.transforms) or bad or sum(w) <= 0:
            raise InvalidValueError(
                f"weights must be {len(self.transforms)} finite non-negative numbers with a positive "
                f"sum, got {weights!r}"
            )
        self.weights = w
        leads = {t.n_leads for t in self.transforms if t.n_leads is not None}
        self.n_leads = leads.pop() if len(leads) == 1 else None

    def apply(self, x: Tensor, fs: float, generator: torch.Generator | None) -> Tensor:
        probs = torch.tensor(self.weights, device=x.device) / sum(self.weights)
        cdf = torch.cumsum(probs, 0)
        u = rand((x.shape[0],), generator, x.device)
        choice = torch.searchsorted(cdf, u, right=True).clamp_max(len(self.transforms) - 1)
        out = x
        for i, t in enumerate(self.transforms):
            out = torch.where((choice == i).view(-1, 1, 1), t(x, fs, generator), out)
        return out

    def min_length(self, fs: float) -> int:
        return max(t.min_length(fs) for t in self.transforms)


def _shares_memory(a: Tensor, b: Tensor) -> bool:
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


class TwoViews:
    """Produce two independently augmented views of a batch, for SSL.

    Args:
        view1: Pipeline for the first view.
        view2: Pipeline for the second view (defaults to the same pipeline as ``view1``;
            randomness still differs between the views).
    """

    def __init__(self, view1: AugSpec | Sequence[AugSpec], view2: Any = None) -> None:
        self.view1 = build_augmentation(view1)
        self.view2 = self.view1 if view2 is None else build_augmentation(view2)

    def __call__(
        self, x: Tensor, fs: float, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        return self.view1(x, fs, generator), self.view2(x, fs, generator)

    def min_length(self, fs: float) -> int:
        return max(self.view1.min_length(fs), self.view2.min_length(fs))

    def __repr__(self) -> str:
        return f"TwoViews(view1={self.view1!r}, view2={self.view2!r})"
