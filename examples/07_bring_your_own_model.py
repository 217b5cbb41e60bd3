"""Bring your own model: wrap a plain nn.Module, pretrain it with BELL and SimCLR, evaluate it,
and load its checkpoint back.

python examples/07_bring_your_own_model.py          # a few minutes on 2 CPU cores
python examples/07_bring_your_own_model.py --fast   # a smoke run in well under a minute
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from torch import Tensor, nn

import ecgssl


# --8<-- [start:models]
class LeadCNN(nn.Module):
    """Your model, knowing nothing of ecgssl: one small CNN shared by every lead.

    (batch, leads, time) -> per-lead features (batch, leads, dim).
    """

    def __init__(self, dim: int = 32, width: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(1, width, 7, padding=3), nn.BatchNorm1d(width), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(width, dim, 7, padding=3), nn.BatchNorm1d(dim), nn.ReLU(),
            nn.AdaptiveAvgPool1d(1), nn.Flatten(),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        b, leads, t = x.shape
        return self.net(x.reshape(b * leads, 1, t)).reshape(b, leads, -1)


def plain_cnn(leads: int = 12, dim: int = 64) -> nn.Module:
    """Another one: all leads as input channels, (batch, leads, time) -> (batch, dim)."""
    return nn.Sequential(
        nn.Conv1d(leads, dim, 7, stride=2, padding=3), nn.BatchNorm1d(dim), nn.ReLU(),
        nn.Conv1d(dim, dim, 7, stride=2, padding=3), nn.ReLU(),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(),
    )  # fmt: skip


# --8<-- [end:models]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="tiny dataset and budget")
    args = parser.parse_args()

    if args.fast:
        data = ecgssl.load_dataset("synthetic", n_records=40, progress=False)
        budget = {"steps": 4, "batch_size": 8}
    else:
        data = ecgssl.load_dataset("synthetic", progress=False)
        budget = {"steps": 300, "batch_size": 64}
    options = {**budget, "recipe": None, "progress": False, "seed": 0}

    # --8<-- [start:wrap]
    # Per-lead features (batch, leads, D): every method, including the lead-wise BELL.
    lead_enc = ecgssl.wrap_model(LeadCNN(dim=32), output_dim=32, n_leads=data.n_leads,
                                 fs=data.fs, per_lead=True)  # fmt: skip
    bell = ecgssl.pretrain("bell", data, encoder=lead_enc, **options)
    print(f"BELL + LeadCNN: loss {bell.final_loss:.4f}, "
          f"macro AUROC {ecgssl.evaluate(bell, data).macro_auroc:.3f}")  # fmt: skip

    # Flat features (batch, D): every method that does not contrast leads, e.g. SimCLR.
    flat_enc = ecgssl.wrap_model(plain_cnn(data.n_leads), output_dim=64, n_leads=data.n_leads,
                                 fs=data.fs)  # fmt: skip
    simclr = ecgssl.pretrain("simclr", data, encoder=flat_enc, **options)
    print(f"SimCLR + plain CNN: loss {simclr.final_loss:.4f}, "
          f"macro AUROC {ecgssl.evaluate(simclr, data).macro_auroc:.3f}")  # fmt: skip
    # --8<-- [end:wrap]

    with tempfile.TemporaryDirectory() as tmp:
        # --8<-- [start:load]
        result = ecgssl.pretrain("simclr", data, encoder=ecgssl.wrap_model(
            plain_cnn(data.n_leads), output_dim=64, n_leads=data.n_leads, fs=data.fs,
        ), checkpoint_dir=tmp, **options)  # fmt: skip
        # A checkpoint holds the weights and the declared contract, not your code: wrap a new
        # instance of the same module the same way and pass it to load_encoder.
        fresh = ecgssl.wrap_model(plain_cnn(data.n_leads), output_dim=64,
                                  n_leads=data.n_leads, fs=data.fs)  # fmt: skip
        encoder = ecgssl.load_encoder(Path(str(result.checkpoint_path)), encoder=fresh)
        # --8<-- [end:load]
        x = torch.as_tensor(data.signals[:4])
        same = torch.allclose(encoder(x), result.encoder.eval()(x), atol=1e-6)
        print(f"checkpoint reloaded into a fresh wrapper: same features {same}")
        if not same:
            raise SystemExit("the reloaded encoder differs from the trained one")


if __name__ == "__main__":
    main()
