"""Register your own encoder, pretrain it, export it and check the export.

python examples/03_custom_encoder.py          # a few minutes on 2 CPU cores
python examples/03_custom_encoder.py --fast   # a smoke run in seconds
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

import ecgssl

# --8<-- [start:register]
from ecgssl.encoders.base import Encoder
from ecgssl.registry import ENCODERS


@ENCODERS.register("tiny_cnn")
class TinyCNN(Encoder):
    """Two strided convolutions and global average pooling: (batch, leads, time) -> (batch, dim).

    Args:
        n_leads: Input leads (passed by ecgssl from the data).
        width: Channels of the convolutions.
        output_dim: Size of the representation.
    """

    def __init__(self, n_leads: int = 12, width: int = 32, output_dim: int = 64) -> None:
        super().__init__()
        self._remember_config("tiny_cnn", n_leads=n_leads, width=width, output_dim=output_dim)
        self.n_leads, self.output_dim, self.min_length = n_leads, output_dim, 16
        self.net = nn.Sequential(
            nn.Conv1d(n_leads, width, 7, stride=2, padding=3), nn.BatchNorm1d(width), nn.ReLU(),
            nn.Conv1d(width, output_dim, 7, stride=2, padding=3), nn.ReLU(),
            nn.AdaptiveAvgPool1d(1), nn.Flatten(),
        )  # fmt: skip

    def encode(self, x: Tensor) -> Tensor:  # x was checked against the contract by forward()
        return self.net(x)


# --8<-- [end:register]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="tiny dataset, encoder and budget")
    parser.add_argument("--out", type=Path, default=None, help="export folder (default: temp)")
    args = parser.parse_args()

    if args.fast:
        data = ecgssl.load_dataset("synthetic", n_records=40, progress=False)
        spec, budget = {"name": "tiny_cnn", "width": 8, "output_dim": 16}, {"epochs": 1}
    else:
        data = ecgssl.load_dataset("synthetic")
        spec, budget = {"name": "tiny_cnn"}, {"epochs": 20}

    # --8<-- [start:use]
    result = ecgssl.pretrain("byol", data, encoder=spec, batch_size=16, progress=False, **budget)
    probe = ecgssl.evaluate(result, data)  # linear probe on frozen embeddings
    # --8<-- [end:use]
    print(f"BYOL + tiny_cnn: final loss {result.final_loss:.4f}, "
          f"macro AUROC {probe.macro_auroc:.3f}")  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        files = ecgssl.export(result, out / "tiny_cnn")  # TorchScript + JSON signal card
        model, card = ecgssl.load_exported(files.torchscript)
        x = torch.as_tensor(data.signals[:8])
        same = np.allclose(model(x).detach().numpy(), ecgssl.embed(result, x), atol=1e-5)
        print(
            f"exported to {files.torchscript.name}; card: fs {card['fs']} Hz, "
            f"window {card['window_seconds']} s; matches ecgssl.embed: {same}"
        )
        if not same:
            raise SystemExit("the exported model does not reproduce ecgssl.embed")


if __name__ == "__main__":
    main()
