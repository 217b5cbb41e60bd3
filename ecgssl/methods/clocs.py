"""CLOCS: contrastive learning of cardiac signals across space, time and patients
(Kiyasseh, Zhu & Clifton, ICML 2021).

Positives are views of the same recording that an ECG offers without augmentation:

- **CMSC** (contrastive multi-segment coding): adjacent, non-overlapping segments in time;
- **CMLC** (contrastive multi-lead coding): different leads at the same time;
- **CMSMLC**: both, every (segment, lead) combination;

and, optionally, recordings of the same patient. Other recordings of the batch are the
negatives. The shared training loop hands every method two augmented views of a window; CLOCS
applies its objective to each view on its own (segments are the view's two halves, leads its
leads) and averages the two, so the augmentations add variety without inventing positives.
In a distributed run the embeddings (and patient ids) of all ranks are gathered, so the
negatives span the global batch.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ecgssl.encoders.base import Encoder
from ecgssl.errors import InvalidValueError
from ecgssl.methods.base import SSLMethod
from ecgssl.methods.gather import gather_with_grad
from ecgssl.methods.heads import LeadwiseMLPHead, MLPHead
from ecgssl.methods.losses import clocs_loss
from ecgssl.registry import METHODS
from ecgssl.validation import check_positive

__all__ = ["CLOCS"]

_MODES = ("cmsc", "cmlc", "cmsmlc")


@METHODS.register("clocs")
class CLOCS(SSLMethod):
    """CLOCS with segment (CMSC), lead (CMLC) or segment-and-lead (CMSMLC) positives.

    CMSC embeds each half of a view with the encoder's flat representation and a projector;
    CMLC and CMSMLC embed each lead's latent (multi-branch encoder) with per-lead projectors
    into one shared space. The loss is :func:`ecgssl.methods.losses.clocs_loss` over the
    views of each record.

    Args:
        encoder: Encoder to pretrain; CMLC/CMSMLC need a multi-branch encoder. CMSC feeds it
            half-length windows, so it must accept variable lengths.
        mode: ``"cmsc"`` (the paper's best in most settings), ``"cmlc"`` or ``"cmsmlc"``.
        temperature: Softmax temperature (paper: 0.1).
        proj_hidden_dim: Projector hidden units.
        proj_dim: Embedding size (paper: 128).
        shared_heads: For CMLC/CMSMLC, one projector for all leads (default: as the encoder's
            branches; CLOCS itself uses one network for every lead).
        patient_positives: Treat other recordings of the same patient in the batch as
            positives when the training data carry patient ids (an :class:`ECGDataset` with
            ``patient_ids``: the Pretrainer passes them). ``False`` ignores the ids.
    """

    name = "clocs"
    uses_patient_ids = True

    def __init__(
        self,
        encoder: Encoder,
        mode: str = "cmsc",
        temperature: float = 0.1,
        proj_hidden_dim: int = 512,
        proj_dim: int = 128,
        shared_heads: bool | None = None,
        patient_positives: bool = True,
    ) -> None:
        super().__init__(encoder)
        if mode not in _MODES:
            raise InvalidValueError(f"mode must be one of {_MODES}, got {mode!r}")
        check_positive(temperature, "temperature")
        self.mode = mode
        self.temperature = float(temperature)
        self.patient_positives = bool(patient_positives)
        self.by_lead = mode in ("cmlc", "cmsmlc")
        self.by_segment = mode in ("cmsc", "cmsmlc")
        if self.by_lead and not encoder.is_multibranch:
            raise InvalidValueError(
                f"CLOCS mode {mode!r} contrasts leads and needs a multi-branch encoder with "
                "per-lead latents; use encoder='multibranch' (or a model wrapped with "
                "ecgssl.wrap_model(..., per_lead=True)) or mode='cmsc'"
            )
        if self.by_lead and encoder.n_leads < 2:
            raise InvalidValueError(
                f"CLOCS mode {mode!r} needs at least 2 leads, got {encoder.n_leads}"
            )
        if self.by_segment and encoder.input_length is not None:
            raise InvalidValueError(
                f"CLOCS mode {mode!r} encodes half-length segments, but the encoder only "
                f"accepts exactly {encoder.input_length} samples"
            )
        self._forget_momentum()
        heads_shared = bool(encoder.config.get("shared_weights", False))
        heads_shared = heads_shared if shared_heads is None else bool(shared_heads)
        self._remember(
            mode=mode, temperature=temperature, proj_hidden_dim=proj_hidden_dim,
            proj_dim=proj_dim, shared_heads=heads_shared, patient_positives=self.patient_positives,
        )  # fmt: skip
        self.projector: MLPHead | LeadwiseMLPHead
        if self.by_lead:
            self.projector = LeadwiseMLPHead(
                encoder.n_leads, int(encoder.per_lead_dim or 0), proj_hidden_dim, proj_dim,
                heads_shared,
            )  # fmt: skip
        else:
            self.projector = MLPHead(encoder.output_dim, proj_hidden_dim, proj_dim)

    def _segments(self, views: list[Tensor]) -> list[Tensor]:
        """Each view's two adjacent, non-overlapping halves: [v1a, v1b, v2a, v2b, ...]."""
        half = views[0].shape[-1] // 2
        if half < self.encoder.min_length:
            raise InvalidValueError(
                f"CLOCS mode {self.mode!r} splits each window into halves of {half} samples, "
                f"shorter than the encoder's minimum of {self.encoder.min_length}; use longer "
                "windows"
            )
        return [s for v in views for s in (v[..., :half], v[..., half : 2 * half])]

    def _embed(self, x: Tensor) -> Tensor:
        """(n, leads, time) -> (n, leads, dim) for lead modes, (n, 1, dim) otherwise."""
        if self.by_lead:
            return self.projector(self.encoder.forward_leads(x))
        return self.projector(self.encoder(x)).unsqueeze(1)

    def training_step(
        self, view1: Tensor, view2: Tensor, patient_ids: Tensor | None = None
    ) -> dict[str, Tensor]:
        """CLOCS loss of each view, averaged over the two views.

        Args:
            view1: First augmented view (batch, leads, time).
            view2: Second augmented view of the same records.
            patient_ids: Optional patient id per record (batch,); records of the same patient
                are then positives too.
        """
        b = view1.shape[0]
        parts = self._segments([view1, view2]) if self.by_segment else [view1, view2]
        emb = self._embed(torch.cat(parts)).split(b)  # one (b, leads or 1, dim) per part
        emb = tuple(gather_with_grad(e) for e in emb)  # the global batch in distributed runs
        if not self.patient_positives:
            patient_ids = None
        if patient_ids is not None:
            patient_ids = gather_with_grad(patient_ids.to(view1.device))
        per_view = len(parts) // 2
        losses = [
            clocs_loss(torch.cat(emb[k * per_view : (k + 1) * per_view], dim=1),
                       self.temperature, patient_ids)
            for k in range(2)
        ]  # fmt: skip
        return {"loss": (losses[0] + losses[1]) / 2}
