"""``ecgssl evaluate``: score a saved encoder on a labeled dataset."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ecgssl.cli._common import (
    DeprecatedAlias,
    add_amp_arg,
    add_dataset_args,
    amp_setting,
    fractions,
    load_cli_dataset,
    seeds,
)

__all__ = ["add_parser"]

EPILOG = """examples:
  ecgssl evaluate runs/bell/encoder                    # linear probe, built-in dataset
  ecgssl evaluate runs/bell/checkpoints/ckpt-epoch0040-step00000200.pt --protocol knn
  ecgssl evaluate runs/bell/encoder --dataset ptbxl --root ~/data/ptb-xl \\
      --task superdiagnostic --label-fractions 0.01,0.1,1 --baseline --out probe.json
ENCODER is the encoder folder written by `ecgssl pretrain --out` (OUT/encoder), a Pretrainer
checkpoint, or an encoder.pt from an older ecgssl.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "evaluate",
        help="evaluate a saved encoder (linear probe, kNN or fine-tuning)",
        description="Evaluate a saved encoder on the test split of a labeled dataset, "
        "with model selection on its validation split.",
        epilog=EPILOG,
    )
    p.add_argument("encoder", type=Path,
                   help="encoder folder (config.json + model.safetensors), checkpoint or "
                   "encoder.pt")  # fmt: skip
    p.add_argument("--config", type=Path, default=None, help="TOML file of options")
    add_dataset_args(p, npz=True)
    p.add_argument("--protocol", default="linear", choices=["linear", "knn", "finetune"],
                   help="evaluation protocol (default linear)")  # fmt: skip
    p.add_argument("--label-fractions", default="1.0", help="comma-separated label fractions")
    p.add_argument("--seeds", default="0",
                   help="seed(s) of the label samples, comma-separated: the metrics are the "
                   "mean (± sd) over them")  # fmt: skip
    p.add_argument("--seed", dest="seeds", action=DeprecatedAlias, new="--seeds")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    add_amp_arg(p, "embedding and fine-tuning")
    p.add_argument("--baseline", action="store_true",
                   help="also evaluate a random-init encoder of the same architecture")  # fmt: skip
    p.add_argument("--allow-leakage", action="store_true",
                   help="score a test split that overlaps the pretraining records")  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="write the metrics as JSON here")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(handler=run)
    return p


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    import ecgssl
    from ecgssl.data.cache import atomic_write_bytes
    from ecgssl.training.encoder_files import read_encoder

    fracs = fractions(args.label_fractions)
    encoder, card = read_encoder(args.encoder)
    dataset = load_cli_dataset(args, progress=not args.no_progress)
    print(dataset.summary())
    encoders: dict[str, Any] = {"encoder": encoder}
    seed_list = seeds(args.seeds)
    if args.baseline:
        torch.manual_seed(seed_list[0] + 1000)
        encoders["random_init"] = ecgssl.build_encoder(encoder.config, dataset.n_leads)
    rows = []
    over = f" (mean ± sd over label-sample seeds {seed_list})" if len(seed_list) > 1 else ""
    print(f"\n{args.protocol} macro AUROC on the {dataset.name} test split{over}:")
    for frac in fracs:
        row: dict[str, Any] = {"label_fraction": frac}
        for name, enc in encoders.items():
            per_seed = [
                ecgssl.evaluate(
                    enc, dataset, protocol=args.protocol, label_fraction=frac, seed=seed,
                    device=args.device, allow_leakage=args.allow_leakage,
                    amp=amp_setting(args.amp),
                ).metrics
                for seed in seed_list
            ]  # fmt: skip
            aurocs = np.array([m["macro_auroc"] for m in per_seed])
            row[name] = (
                {"macro_auroc": float(aurocs.mean()), "macro_auroc_sd": float(aurocs.std()),
                 "seeds": seed_list, "per_seed": per_seed}
                if len(seed_list) > 1 else per_seed[0]
            )  # fmt: skip
        rows.append(row)
        cells = "  ".join(
            f"{k} {row[k]['macro_auroc']:.4f}"
            + (f" ± {row[k]['macro_auroc_sd']:.4f}" if len(seed_list) > 1 else "")
            for k in encoders
        )
        print(f"{frac:>8.0%}  {cells}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        summary = {"encoder": str(args.encoder), "card": card, "protocol": args.protocol,
                   "dataset": dataset.name, "results": rows}  # fmt: skip
        atomic_write_bytes(args.out, json.dumps(summary, indent=2).encode())
        print(f"wrote {args.out}")
    return 0
