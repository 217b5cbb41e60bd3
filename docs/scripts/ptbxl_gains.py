"""Bar chart of the real-data results: docs/assets/ptbxl_gains.png.

python docs/scripts/ptbxl_gains.py
python docs/scripts/ptbxl_gains.py --runs benchmarks/results/ptbxl-dev/runs.jsonl --out /tmp/g.png

Reads the fold-9 ("report") rows of benchmarks/results/ptbxl-dev/runs.jsonl and draws, per
method and evaluation cell, the paired gain in macro AUROC of the pretrained encoder over the
same encoder untrained (random init): a bar for the mean over pretraining seeds and a dot per
seed. Needs matplotlib (pip install "ecgssl[plot]").
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CELLS = {  # runs.jsonl key -> axis label
    "gain/linear_test@0.01": "linear probe\n1 % labels\n(13 records)",
    "gain/linear_test@0.1": "linear probe\n10 % labels\n(128 records)",
    "gain/linear_test@1": "linear probe\n100 % labels\n(1,282 records)",
    "gain/finetune_test@0.1": "fine-tune\n10 % labels\n(128 records)",
}
METHODS = {  # runs.jsonl tag -> legend label, colour
    "bell-vc-recipe": ("BELL, recipe (1000 steps, var-cov regulariser)", "#1f77b4"),
    "bell-recipe": ("BELL without regulariser (1000 steps)", "#aec7e8"),
    "lead_barlow-recipe": ("lead_barlow, recipe (1000 steps)", "#ff7f0e"),
}


def load_gains(runs: Path) -> dict[str, dict[str, list[float]]]:
    """tag -> cell -> one gain per seed (fold-9 report rows of the tags in METHODS)."""
    gains: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for line in runs.read_text().splitlines():
        row = json.loads(line)
        if row.get("mode") != "report" or row.get("tag") not in METHODS:
            continue
        for key in CELLS:
            if key in row:
                gains[row["tag"]][key].append(float(row[key]))
    return gains


def draw(gains: dict[str, dict[str, list[float]]], out: Path) -> None:
    fig, ax = plt.subplots(figsize=(8.0, 4.2), dpi=120)
    x = np.arange(len(CELLS))
    shown = [m for m in METHODS if m in gains]
    width = 0.8 / len(shown)
    for i, method in enumerate(shown):
        label, color = METHODS[method]
        offset = (i - (len(shown) - 1) / 2) * width
        per_seed = [gains[method][key] for key in CELLS]
        means = [float(np.mean(g)) for g in per_seed]
        n_seeds = max(len(g) for g in per_seed)
        ax.bar(x + offset, means, width * 0.92, color=color, alpha=0.85,
               label=f"{label} (mean of {n_seeds} seeds)")  # fmt: skip
        for j, g in enumerate(per_seed):
            ax.scatter(np.full(len(g), x[j] + offset), g, s=14, color="black", zorder=3,
                       label="one seed" if i == 0 and j == 0 else None)  # fmt: skip
            top = max(means[j], max(g))
            ax.annotate(f"{means[j]:+.4f}", (x[j] + offset, top), xytext=(0, 4),
                        textcoords="offset points", ha="center", fontsize=8)  # fmt: skip
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xticks(x, list(CELLS.values()), fontsize=9)
    ax.set_ylabel("gain in macro AUROC\n(pretrained − same weights untrained)")
    ax.set_title("Real PTB-XL, test fold 9 (183 records): gain over random init", fontsize=11)
    ax.set_ylim(min(-0.02, ax.get_ylim()[0]), ax.get_ylim()[1] + 0.01)
    ax.legend(fontsize=8, loc="upper right", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, metadata={"Software": None})
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path,
                        default=ROOT / "benchmarks" / "results" / "ptbxl-dev" / "runs.jsonl")  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "assets" / "ptbxl_gains.png")
    args = parser.parse_args()
    gains = load_gains(args.runs)
    for method, cells in gains.items():
        print(method, {key.split("/")[1]: round(float(np.mean(v)), 4) for key, v in cells.items()})
    draw(gains, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
