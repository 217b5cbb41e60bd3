"""Register your own augmentation, then pretrain with it in the view pipeline.

python examples/02_custom_augmentation.py          # a few minutes on 2 CPU cores
python examples/02_custom_augmentation.py --fast   # a smoke run in seconds
"""

from __future__ import annotations

import argparse

import torch
from torch import Tensor

import ecgssl

# --8<-- [start:register]
from ecgssl.augment import Augmentation
from ecgssl.augment.base import uniform
from ecgssl.registry import AUGMENTATIONS


@AUGMENTATIONS.register("electrode_motion")
class ElectrodeMotion(Augmentation):
    """A step of up to ``max_mv`` mV that decays with time constant ``tau`` seconds, at a
    random time, in every lead: the artefact of an electrode that moves on the skin.

    Args:
        max_mv: Largest step height in mV.
        tau: Decay time constant in seconds.
    """

    def __init__(self, max_mv: float = 0.5, tau: float = 0.3) -> None:
        self.max_mv, self.tau = float(max_mv), float(tau)

    def apply(self, x: Tensor, fs: float, generator: torch.Generator | None) -> Tensor:
        b, leads, n = x.shape  # parameters drawn per sample (and lead) as tensors: no loop
        height = uniform(-self.max_mv, self.max_mv, (b, leads, 1), generator, x.device)
        onset = uniform(0.0, n / fs, (b, 1, 1), generator, x.device)  # seconds
        t = torch.arange(n, device=x.device) / fs - onset  # seconds since the step
        return x + (height * torch.exp(-t.clamp_min(0) / self.tau) * (t >= 0)).to(x.dtype)


# --8<-- [end:register]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="tiny dataset, encoder and budget")
    args = parser.parse_args()

    # --8<-- [start:use]
    views = ecgssl.augment.TwoViews([
        {"name": "random_crop", "seconds": 2.5},
        {"name": "electrode_motion", "max_mv": 0.4},  # built by name, like the built-in ones
        "amplitude_scale",
        {"name": "random_apply", "transform": "gaussian_noise", "p": 0.5},
    ])  # fmt: skip
    # --8<-- [end:use]
    assert "electrode_motion" in ecgssl.list_augmentations()

    x = torch.zeros(4, 12, 500)  # 5 s of flat 12-lead ECG at 100 Hz
    y = ElectrodeMotion()(x, fs=100.0, generator=torch.Generator().manual_seed(0))
    print(f"electrode_motion: largest step {y.abs().max():.2f} mV on a flat trace")

    if args.fast:
        data = ecgssl.load_dataset("synthetic", n_records=40, progress=False)
        budget = {"epochs": 1, "batch_size": 16, "encoder": {"name": "resnet1d", "width": 8}}
    else:
        data = ecgssl.load_dataset("synthetic")
        budget = {"epochs": 20, "encoder": "resnet1d"}
    result = ecgssl.pretrain("simclr", data, augmentations=views, progress=False, **budget)
    print(f"SimCLR with electrode_motion views: final loss {result.final_loss:.4f}")
    print(f"linear-probe macro AUROC {ecgssl.evaluate(result, data).macro_auroc:.3f}")


if __name__ == "__main__":
    main()
