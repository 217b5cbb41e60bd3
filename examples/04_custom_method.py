"""Register your own SSL method (alignment + uniformity, Wang & Isola, ICML 2020) and train it.

python examples/04_custom_method.py          # a few minutes on 2 CPU cores
python examples/04_custom_method.py --fast   # a smoke run in seconds
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import Tensor

import ecgssl

# --8<-- [start:register]
from ecgssl.encoders.base import Encoder
from ecgssl.methods import SSLMethod
from ecgssl.methods.heads import MLPHead
from ecgssl.registry import METHODS


def align_uniform_loss(z1: Tensor, z2: Tensor, t: float = 2.0) -> Tensor:
    """Pull the two views together; spread all embeddings over the sphere (pure function)."""
    z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    align = (z1 - z2).pow(2).sum(dim=1).mean()
    uniform = torch.pdist(torch.cat([z1, z2])).pow(2).mul(-t).exp().mean().log()
    return align + uniform


@METHODS.register("align_uniform")
class AlignUniform(SSLMethod):
    """Alignment + uniformity on a projection of the encoder's representation; no EMA target."""

    name = "align_uniform"

    def __init__(self, encoder: Encoder, proj_dim: int = 64, t: float = 2.0) -> None:
        super().__init__(encoder)
        self._forget_momentum()  # no EMA target, no momentum hyperparameters
        self._remember(proj_dim=proj_dim, t=t)  # recorded in checkpoints and signal cards
        self.t = t
        self.projector = MLPHead(encoder.output_dim, 2 * proj_dim, proj_dim)

    def training_step(self, view1: Tensor, view2: Tensor) -> dict[str, Tensor]:
        z = self.projector(self.encoder(torch.cat([view1, view2])))
        return {"loss": align_uniform_loss(*z.chunk(2), t=self.t)}


# --8<-- [end:register]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="tiny dataset, encoder and budget")
    args = parser.parse_args()

    if args.fast:
        data = ecgssl.load_dataset("synthetic", n_records=40, progress=False)
        budget = {"epochs": 1, "batch_size": 16, "encoder": {"name": "resnet1d", "width": 8}}
    else:
        data = ecgssl.load_dataset("synthetic")
        budget = {"epochs": 20}

    # --8<-- [start:use]
    result = ecgssl.pretrain("align_uniform", data, t=3.0, progress=False, **budget)
    # --8<-- [end:use]
    assert result.method.hparams == {"proj_dim": 64, "t": 3.0}
    print(f"align_uniform: final loss {result.final_loss:.4f}")
    print(f"linear-probe macro AUROC {ecgssl.evaluate(result, data).macro_auroc:.3f}")


if __name__ == "__main__":
    main()
