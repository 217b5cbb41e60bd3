"""Summarise report-mode runs of ``ptbxl_dev.py``: mean over seeds and the paired bootstrap CI.

For every tag (recipe) and cell (linear probe at a label fraction, fine-tuning at 10 %), the
gain over random init is the mean over pretraining seeds (and label samples) of
AUROC(pretrained) - AUROC(random init of the same initial weights), both scored on the same
fold-9 records. Its 95 % interval resamples those records (the same resample for every seed,
arm and label sample, so the pairing is kept): the interval says how much the test fold's
composition could move the gain.

Example::

    python benchmarks/ptbxl_dev_report.py benchmarks/results/ptbxl-dev/runs.jsonl \\
        --scores benchmarks/results/ptbxl-dev/scores --out benchmarks/results/ptbxl-dev/results.md \\
        --csv benchmarks/results/ptbxl-dev/results.csv --png benchmarks/results/ptbxl-dev/results.png
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from ecgssl.evaluation.metrics import macro_auroc, paired_gain_ci


def _describe_views(aug: str) -> str:
    """A compact name for a JSON view pipeline: its ops joined by '+', key numbers in ()."""

    def one(spec: dict) -> str:
        if spec.get("name") == "random_apply":
            return one(spec["transform"])
        args = [f"{v}" for k, v in spec.items() if k != "name"]
        return spec["name"] + (f"({', '.join(args)})" if args else "")

    return "+".join(one(s) for s in json.loads(aug))


def dev_table(rows: list[dict]) -> str:
    """One line per dev-mode row (fold 8), in the order the rows were run; a row of another
    pretraining seed than 0 names it."""
    lines = [
        "| row | method | steps x batch | change from the baseline | pretrain s | "
        "pretrained (10 %) | random init (10 %) | gain (10 %) | gain (100 %) | effective rank | "
        "final loss |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r.get("mode") != "dev":
            continue
        change = ", ".join(
            [f"{k}={v}" for k, v in {**r["method_options"], **r["encoder_options"]}.items()]
            + ([f"lr={r['lr']:g}"] if r["lr"] != 1e-3 else [])
            + ([f"weight_decay={r['weight_decay']:g}"] if r.get("weight_decay", 1e-4) != 1e-4 else [])
            + (["+HCE"] if r["hce"] else [])
            + ([f"leads={','.join(r['leads'])}"] if len(r.get("leads", ())) not in (0, 12) else [])
            + ([f"views={r['strength']}"] if r["strength"] != "default" else [])
            + ([f"views={_describe_views(r['aug'])}"] if r.get("aug") else [])
            + ([f"window={r['window']:g} s"] if r.get("window", 2.5) != 2.5 else [])
        )  # fmt: skip
        rank = r.get("health/effective_rank")
        name = r["tag"] + (f" (seed {r['seed']})" if r.get("seed", 0) != 0 else "")
        lines.append(
            f"| {name} | {r['method']} | {r['steps']} x {r['batch_size']} | {change or '-'} | "
            f"{r['pretrain_seconds']:.0f} | {r['ssl/linear_val@0.1']:.4f} | "
            f"{r['random/linear_val@0.1']:.4f} | {r['gain/linear_val@0.1']:+.4f} | "
            f"{'' if r.get('gain/linear_val@1') is None else format(r['gain/linear_val@1'], '+.4f')} | "
            f"{'' if rank is None else f'{rank:.1f}'} | {r['final_loss']:.3f} |"
        )
    return "\n".join(lines)


def report_cells(
    by_tag: dict[str, list[dict]], scores_dir: Path, baseline: str, n_boot: int
) -> list[dict]:
    """Per recipe and cell, both arms' mean AUROC and the paired gain with its CI.

    ``baseline`` "random" pairs each seed with its own untrained copy (in the recipe's scores
    file); "random_bn" with the BatchNorm-recalibrated one (``random_bn_sSEED.npz``, linear
    cells only; recipes whose seeds lack it are left out)."""
    out = []
    for tag, rs in by_tag.items():
        files = [np.load(scores_dir / f"{tag}_s{r['seed']}.npz") for r in rs]
        if baseline == "random":
            bases = files
        else:
            paths = [scores_dir / f"{baseline}_s{r['seed']}.npz" for r in rs]
            if not all(p.exists() for p in paths):
                continue  # this recipe's seeds lack that baseline
            bases = [np.load(p) for p in paths]
        y = files[0]["ssl/y_test"]
        cells = sorted({k.split("/", 1)[1].split("/label_seed")[0] for k in files[0].files
                        if k.startswith("ssl/") and k != "ssl/y_test"})  # fmt: skip
        for cell in cells:
            pairs = [
                (f[k], b[f"{baseline}/{k.split('/', 1)[1]}"])
                for f, b in zip(files, bases)
                for k in f.files
                if k.startswith("ssl/")
                and k.split("/", 1)[1].split("/label_seed")[0] == cell
                and f"{baseline}/{k.split('/', 1)[1]}" in b.files
            ]
            if not pairs:
                continue
            gain, lo, hi = paired_gain_ci(y, pairs, n_boot)
            protocol, _, fraction = cell.partition("@")
            out.append({
                "recipe": tag, "method": rs[0].get("method", ""), "baseline": baseline,
                "protocol": protocol, "label_fraction": float(fraction), "cell": cell,
                "seeds": len(rs), "steps": rs[0]["steps"],
                "pretrain_min": float(np.mean([r["pretrain_seconds"] for r in rs]) / 60),
                "pretrained": float(np.mean([macro_auroc(y, s) for s, _ in pairs])),
                "random": float(np.mean([macro_auroc(y, r) for _, r in pairs])),
                "gain": gain, "ci_low": lo, "ci_high": hi, "test_records": len(y),
            })  # fmt: skip
    return out


def report_table(
    by_tag: dict[str, list[dict]], scores_dir: Path, baseline: str, n_boot: int,
    cells: list[dict] | None = None,
) -> str:  # fmt: skip
    """The fold-9 table of :func:`report_cells` (computed here unless ``cells`` are given);
    "" when no recipe has the baseline."""
    if cells is None:
        cells = report_cells(by_tag, scores_dir, baseline, n_boot)
    if not cells:
        return ""
    lines = [
        "| recipe | seeds | steps | pretrain min | cell | pretrained | "
        f"{'random init' if baseline == 'random' else 'random init, BN from data'} | gain | "
        "95 % CI of gain |",
        "|---|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for c in cells:
        lines.append(
            f"| {c['recipe']} | {c['seeds']} | {c['steps']} | {c['pretrain_min']:.1f} | "
            f"{c['cell']} | {c['pretrained']:.4f} | {c['random']:.4f} | {c['gain']:+.4f} | "
            f"[{c['ci_low']:+.4f}, {c['ci_high']:+.4f}] |"
        )
    return "\n".join(lines)


def write_csv(cells: list[dict], path: Path) -> None:
    """Every cell of both tables, one row each (``baseline`` says which table)."""
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(cells[0]))
        w.writeheader()
        for c in cells:
            w.writerow({k: f"{v:.6f}" if isinstance(v, float) else v for k, v in c.items()})


def plot_gains(cells: list[dict], path: Path) -> bool:
    """One panel per cell (linear probe at each label fraction, fine-tuning): each recipe's
    paired gain over random init with its 95 % CI. Needs matplotlib; ``False`` without it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    cells = [c for c in cells if c["baseline"] == "random"]
    panels = sorted({c["cell"] for c in cells}, key=lambda k: (k.startswith("f"), k))
    recipes = list(dict.fromkeys(c["recipe"] for c in cells))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 0.35 * len(recipes) + 1.6),
                             sharey=True, squeeze=False)  # fmt: skip
    for ax, panel in zip(axes[0], panels):
        by = {c["recipe"]: c for c in cells if c["cell"] == panel}
        ys = [i for i, r in enumerate(recipes) if r in by]
        g = np.array([by[recipes[i]]["gain"] for i in ys])
        lo = np.array([by[recipes[i]]["ci_low"] for i in ys])
        hi = np.array([by[recipes[i]]["ci_high"] for i in ys])
        ax.errorbar(g, ys, xerr=[g - lo, hi - g], fmt="o", capsize=3)
        ax.axvline(0.0, color="grey", lw=0.8)
        protocol, _, fraction = panel.partition("@")
        name = "linear probe" if protocol == "linear" else "fine-tuned"
        ax.set_title(f"{name}, {100 * float(fraction):g} % labels", fontsize=9)
        if panel == "linear@0.1":  # issue 13's target for BELL
            ax.axvline(0.03, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("macro AUROC gain over random init")
    axes[0][0].set_yticks(range(len(recipes)), recipes, fontsize=8)
    axes[0][0].invert_yaxis()
    fig.suptitle(f"PTB-XL fold 9 ({cells[0]['test_records']} records): paired gain, 95 % CI",
                 fontsize=10)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("runs", type=Path)
    ap.add_argument("--scores", type=Path, default=None, help="report mode: scores folder")
    ap.add_argument("--dev", action="store_true", help="the fold-8 ablation table instead")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--csv", type=Path, default=None, help="report mode: every cell as CSV")
    ap.add_argument("--png", type=Path, default=None, help="report mode: the gains as a plot")
    a = ap.parse_args(argv)
    rows = [json.loads(line) for line in a.runs.read_text().splitlines() if line.strip()]
    if a.dev:
        text = dev_table(rows)
        print(text)
        if a.out:
            a.out.write_text(text + "\n")
        return 0
    if a.scores is None:
        ap.error("--scores is required for report-mode runs")
    by_tag: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        if r.get("mode") == "report":
            by_tag[r["tag"]].append(r)
    cells = report_cells(by_tag, a.scores, "random", a.n_boot)
    bn_cells = report_cells(by_tag, a.scores, "random_bn", a.n_boot)
    text = report_table(by_tag, a.scores, "random", a.n_boot, cells)
    bn = report_table(by_tag, a.scores, "random_bn", a.n_boot, bn_cells)
    if a.csv and cells:
        write_csv(cells + bn_cells, a.csv)
    if a.png and cells and not plot_gains(cells, a.png):
        print(f"no plot: {a.png} needs matplotlib (pip install ecgssl[plot])")
    if bn:
        text += (
            "\n\nAgainst random init with BatchNorm statistics recomputed on folds 1-7 "
            "(`benchmarks/ptbxl_random_bn.py`; same initial weights, no training):\n\n" + bn
        )
    print(text)
    if a.out:
        a.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
