"""The ecgssl pipeline in one figure: docs/assets/pipeline.svg.

python docs/scripts/pipeline_figure.py
python docs/scripts/pipeline_figure.py --out /tmp/pipeline.svg

Boxes follow the package layout (ecgssl/data -> augment -> encoders -> methods -> training ->
evaluation) and the commands that run each stage. Needs matplotlib (pip install "ecgssl[plot]").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

ROOT = Path(__file__).resolve().parents[2]

# (x, y, title, body, colour); x and y are the box centres in axis units.
BOXES = [
    (1.0, 2.0, "ECG records", "PTB-XL, LUDB,\nCinC 2021, WFDB,\n.npz, simulated", "#e8e8e8"),
    (3.0, 2.0, "ECGDataset", "(records, leads,\ntime), fs, lead\nnames, labels,\nsplits", "#dbe9f6"),
    (5.0, 3.1, "view 1", "2.5 s crop,\ntime-out, gain,\nnoise, wander", "#fde3c8"),
    (5.0, 0.9, "view 2", "the same policy,\nnew random\ndraws", "#fde3c8"),
    (7.0, 2.0, "encoder", "multibranch:\none branch\nper lead", "#dff0d8"),
    (9.0, 2.0, "SSL method", "BELL, BYOL,\nSimCLR,\nlead_barlow, ...\nloss + EMA", "#e6dcf2"),
    (11.0, 3.1, "Pretrainer", "1000 steps\n(the recipe),\ncheckpoints", "#dff0d8"),
    (11.0, 0.9, "evaluation", "probe/fine-tune,\n1/10/100 % labels,\nvs untrained", "#f6dbdb"),
]  # fmt: skip
ARROWS = [(0, 1), (1, 2), (1, 3), (2, 4), (3, 4), (4, 5), (5, 6), (6, 7)]
COMMANDS = [
    (2.0, "ecgssl datasets prepare"),
    (6.0, "ssl_policy(): two views"),
    (10.0, "ecgssl pretrain / compare"),
]
W, H = 1.7, 1.6


def draw(out: Path) -> None:
    plt.rcParams["svg.fonttype"] = "none"  # text stays text in the SVG
    plt.rcParams["svg.hashsalt"] = "ecgssl-pipeline"  # stable ids: reproducible file
    fig, ax = plt.subplots(figsize=(9.5, 3.9))
    ax.set_xlim(0, 12)
    ax.set_ylim(-0.45, 4.45)
    ax.axis("off")
    for x, y, title, body, color in BOXES:
        ax.add_patch(FancyBboxPatch((x - W / 2, y - H / 2), W, H, boxstyle="round,pad=0.03,rounding_size=0.12",
                                    facecolor=color, edgecolor="#555555", linewidth=1.0))  # fmt: skip
        ax.text(x, y + H / 2 - 0.2, title, ha="center", va="center", fontsize=10.5, weight="bold")
        ax.text(x, y - 0.14, body, ha="center", va="center", fontsize=9, linespacing=1.2)
    for a, b in ARROWS:
        (xa, ya), (xb, yb) = BOXES[a][:2], BOXES[b][:2]
        if xa == xb:  # vertical: pretrained encoder -> evaluation
            start, end = (xa, ya - H / 2), (xb, yb + H / 2)
        else:
            start, end = (xa + W / 2, ya), (xb - W / 2, yb)
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14,
                                     color="#333333", linewidth=1.2, shrinkA=2, shrinkB=2))  # fmt: skip
    for x, text in COMMANDS:
        ax.text(x, 4.3, text, ha="center", va="center", fontsize=9, family="monospace",
                color="#1f4e79")  # fmt: skip
    ax.text(11.0, -0.3, "results table + plot", ha="center", va="center", fontsize=9,
            family="monospace", color="#1f4e79")  # fmt: skip
    fig.tight_layout(pad=0.2)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, metadata={"Date": None, "Creator": None})
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "assets" / "pipeline.svg")
    args = parser.parse_args()
    draw(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
