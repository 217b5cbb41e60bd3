"""Compare every registered SSL method, and a random-init baseline, on one dataset.

Each method is pretrained with its defaults through ``ecgssl.pretrain`` (same encoder, same
augmentations, same training loop) and scored by the linear probe (macro AUROC on the test
split) at each label fraction; a randomly initialised encoder of the same architecture is
always reported beside them. No method is special-cased: the list comes from the registry.
Writes ``<out>.json`` (every run) and ``<out>.md`` (mean ± sd over seeds)::

    python benchmarks/compare_methods.py --epochs 30 --seeds 0 1 2 \\
        --out benchmarks/results/synthetic_linear
    python benchmarks/compare_methods.py --methods bell lead_barlow clocs --epochs 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

import ecgssl

BASELINE = "random init"


def run_comparison(
    dataset: Any = "synthetic",
    methods: list[str] | None = None,
    seeds: tuple[int, ...] = (0,),
    label_fractions: tuple[float, ...] = (0.1, 1.0),
    encoder: dict[str, Any] | None = None,
    device: str = "auto",
    **pretrain_options: Any,
) -> list[dict[str, Any]]:
    """Pretrain and probe each method (and the random-init baseline) for every seed.

    Returns:
        One row per (method, seed, label fraction) with ``macro_auroc`` and ``minutes``.
    """
    ds = ecgssl.load_dataset(dataset)
    spec = dict(encoder or {"name": "multibranch"})
    rows: list[dict[str, Any]] = []
    for name in methods or ecgssl.list_methods():
        for seed in seeds:
            t0 = time.perf_counter()
            result = ecgssl.pretrain(method=name, dataset=ds, encoder=spec, seed=seed,
                                     device=device, **pretrain_options)  # fmt: skip
            minutes = (time.perf_counter() - t0) / 60
            rows += _probe(name, result.encoder, ds, seed, label_fractions, device, minutes)
    for seed in seeds:
        torch.manual_seed(seed)
        random_enc = ecgssl.build_encoder(spec, ds.n_leads)
        rows += _probe(BASELINE, random_enc, ds, seed, label_fractions, device, 0.0)
    return rows


def _probe(
    name: str, encoder: ecgssl.encoders.base.Encoder, ds: ecgssl.ECGDataset, seed: int,
    fractions: tuple[float, ...], device: str, minutes: float,
) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    for frac in fractions:
        probe = ecgssl.evaluate(encoder, ds, label_fraction=frac, seed=seed, device=device)
        rows.append({"method": name, "seed": seed, "label_fraction": frac,
                     "macro_auroc": probe.macro_auroc, "minutes": minutes})  # fmt: skip
    return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Mean ± sd of macro AUROC over seeds, one row per method, one column per label fraction."""
    fractions = sorted({r["label_fraction"] for r in rows})
    names = list(dict.fromkeys(r["method"] for r in rows))
    header = "| method | " + " | ".join(f"{f:.0%} labels" for f in fractions) + " | minutes |"
    lines = [header, "|" + "---|" * (len(fractions) + 2)]
    for name in names:
        cells = []
        for frac in fractions:
            vals = [r["macro_auroc"] for r in rows if r["method"] == name
                    and r["label_fraction"] == frac]  # fmt: skip
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            cells.append(f"{statistics.mean(vals):.3f} ± {sd:.3f}")
        minutes = statistics.mean(r["minutes"] for r in rows if r["method"] == name)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {minutes:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--methods", nargs="*", default=None, help="default: every registered method")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--label-fractions", type=float, nargs="+", default=[0.1, 1.0])
    p.add_argument("--device", default="auto")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/compare_methods"))
    args = p.parse_args(argv)
    rows = run_comparison(
        args.dataset, args.methods, tuple(args.seeds), tuple(args.label_fractions),
        device=args.device, epochs=args.epochs, batch_size=args.batch_size, progress=False,
    )  # fmt: skip
    table = markdown_table(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    record = {"settings": settings, "torch": torch.__version__, "rows": rows}
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=2))
    args.out.with_suffix(".md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
