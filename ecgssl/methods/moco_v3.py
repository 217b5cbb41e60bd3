"""MoCo v3: momentum contrast without a queue (Chen, Xie & He, ICCV 2021)."""

from __future__ import annotations

import torch
from torch import Tensor

from ecgssl.encoders.base import Encoder
from ecgssl.methods.base import SSLMethod
from ecgssl.methods.gather import gather_with_grad
from ecgssl.methods.heads import MLPHead
from ecgssl.methods.losses import moco_v3_loss
from ecgssl.registry import METHODS
from ecgssl.validation import check_positive

__all__ = ["MoCoV3"]


@METHODS.register("moco_v3", "mocov3")
class MoCoV3(SSLMethod):
    """MoCo v3 on the encoder's flat representation.

    online: encoder -> projector -> predictor (queries q); target: EMA(encoder) ->
    EMA(projector) (keys k). Loss ``ctr(q1, sg(k2)) + ctr(q2, sg(k1))``, an InfoNCE over the
    batch's keys scaled by ``2 tau`` (:func:`ecgssl.methods.losses.moco_v3_loss`). Heads
    follow the paper's ResNet recipe: a 2-layer projector and a 2-layer predictor, with a
    BatchNorm (no affine) on the projector's output. In a distributed run queries (with
    gradients) and keys of all ranks are gathered, so the negatives span the global batch.

    Args:
        encoder: Encoder to pretrain (any registered encoder).
        proj_hidden_dim: Hidden units of projector and predictor (paper: 4096).
        proj_dim: Output size of projector and predictor (paper: 256).
        temperature: Softmax temperature (paper: 1.0 for convolutional encoders).
        base_momentum: EMA momentum at the start (paper: 0.99).
        final_momentum: EMA momentum at the end (paper: 1.0, cosine schedule).
        momentum_schedule: ``"cosine"`` or ``"constant"``.
    """

    name = "moco_v3"

    def __init__(
        self,
        encoder: Encoder,
        proj_hidden_dim: int = 4096,
        proj_dim: int = 256,
        temperature: float = 1.0,
        base_momentum: float = 0.99,
        final_momentum: float = 1.0,
        momentum_schedule: str = "cosine",
    ) -> None:
        super().__init__(encoder, base_momentum, final_momentum, momentum_schedule)
        check_positive(temperature, "temperature")
        self._remember(proj_hidden_dim=proj_hidden_dim, proj_dim=proj_dim, temperature=temperature)
        self.temperature = float(temperature)
        self.projector = MLPHead(encoder.output_dim, proj_hidden_dim, proj_dim, last_bn=True)
        self.predictor = MLPHead(proj_dim, proj_hidden_dim, proj_dim)
        self.target_encoder = self.add_momentum_pair(self.encoder)
        self.target_projector = self.add_momentum_pair(self.projector)

    def training_step(self, view1: Tensor, view2: Tensor) -> dict[str, Tensor]:
        b = view1.shape[0]
        both = torch.cat([view1, view2])
        q = self.predictor(self.projector(self.encoder(both)))
        with torch.no_grad():
            k = self.target_projector(self.target_encoder(both))
        q, k = self._gather(q, k, b)
        b = q.shape[0] // 2
        t = self.temperature
        loss = moco_v3_loss(q[:b], k[b:], t) + moco_v3_loss(q[b:], k[:b], t)
        return {"loss": loss}

    @staticmethod
    def _gather(q: Tensor, k: Tensor, b: int) -> tuple[Tensor, Tensor]:
        """Gather queries and keys of all ranks, keeping the [view 1; view 2] layout."""
        q1, q2 = gather_with_grad(q[:b]), gather_with_grad(q[b:])
        k1, k2 = gather_with_grad(k[:b]), gather_with_grad(k[b:])
        return torch.cat([q1, q2]), torch.cat([k1, k2])
