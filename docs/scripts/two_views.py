"""Two augmented views of one real PTB-XL record, as pretraining sees them: docs/assets/two_views.png.

python docs/scripts/two_views.py                                      # ../shared/data beside the repo
python docs/scripts/two_views.py --npz ~/data/ptbxl_super_100hz_dev.npz --out /tmp/views.png

The views come from ecgssl's own default pipeline, `ecgssl.augment.policies.ssl_policy()`
(2.5 s crop, time-out, gain, noise, baseline wander), applied twice to the same record with a
seeded generator. The record is the first NORM-only record of strat fold 9 in the preprocessed
PTB-XL dev archive (100 Hz, band-passed 0.5-40 Hz and z-scored per lead: amplitudes are in
standard deviations, not mV). Only this small PNG is committed, never the data. Needs
matplotlib (pip install "ecgssl[plot]").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from ecgssl.augment.policies import ssl_policy

ROOT = Path(__file__).resolve().parents[2]
SHOWN_LEADS = ("II", "V1", "V5")


def default_npz() -> Path:
    for folder in (ROOT.parent / "shared" / "data", Path("/work/shared/data")):
        if (folder / "ptbxl_super_100hz_dev.npz").is_file():
            return folder / "ptbxl_super_100hz_dev.npz"
    raise SystemExit("ptbxl_super_100hz_dev.npz not found: pass --npz")


def pick_record(npz: Path) -> tuple[np.ndarray, float, list[str], int]:
    """(leads, time) float32 signal, fs, lead names and ecg_id of the first NORM-only fold-9 record."""
    data = np.load(npz, allow_pickle=False)
    classes = [str(c) for c in data["classes"]]
    norm_only = (data["y"][:, classes.index("NORM")] == 1) & (data["y"].sum(axis=1) == 1)
    index = int(np.flatnonzero(norm_only & (data["strat_fold"] == 9))[0])
    leads = [str(name) for name in data["leads"]]
    return data["X"][index].astype(np.float32), float(data["fs"]), leads, int(data["ecg_id"][index])


def draw(
    signal: np.ndarray, fs: float, leads: list[str], ecg_id: int, seed: int, out: Path
) -> None:
    x = torch.from_numpy(signal)[None]  # (1, leads, time)
    policy = ssl_policy()
    generator = torch.Generator().manual_seed(seed)
    views = [policy(x, fs, generator)[0].numpy() for _ in range(2)]
    rows = [leads.index(name) for name in SHOWN_LEADS]
    panels = [("original record (10 s)", signal), ("view 1", views[0]), ("view 2", views[1])]
    widths = [p[1].shape[-1] / fs for p in panels]  # one time scale for every panel
    fig, axes = plt.subplots(len(rows), 3, figsize=(12, 4.6), dpi=110, sharey="row",
                             gridspec_kw={"width_ratios": widths})  # fmt: skip
    colors = ["#444444", "#1f77b4", "#ff7f0e"]
    for col, (title, sig) in enumerate(panels):
        t = np.arange(sig.shape[-1]) / fs
        for row, lead in enumerate(rows):
            ax = axes[row, col]
            ax.plot(t, sig[lead], color=colors[col], linewidth=0.8)
            ax.grid(True, color="#f0d0d0", linewidth=0.5)
            ax.spines[["top", "right"]].set_visible(False)
            if col == 0:
                ax.set_ylabel(SHOWN_LEADS[row], rotation=0, labelpad=14, fontsize=10)
            if row == 0:
                ax.set_title(title, fontsize=10)
            if row < len(rows) - 1:
                ax.tick_params(labelbottom=False)
        axes[-1, col].set_xlabel("seconds")
    fig.suptitle(f"PTB-XL ecg_id {ecg_id} (NORM, 100 Hz, z-scored per lead) and two views "
                 "from ecgssl.augment.policies.ssl_policy()", fontsize=11)  # fmt: skip
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, metadata={"Software": None})
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npz", type=Path, default=None, help="ptbxl_super_100hz_dev.npz")
    parser.add_argument("--seed", type=int, default=3, help="seed of the augmentation generator")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "assets" / "two_views.png")
    args = parser.parse_args()
    signal, fs, leads, ecg_id = pick_record(args.npz or default_npz())
    draw(signal, fs, leads, ecg_id, args.seed, args.out)
    print(f"wrote {args.out} (ecg_id {ecg_id}, seed {args.seed})")


if __name__ == "__main__":
    main()
