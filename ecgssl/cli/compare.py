"""``ecgssl compare``: same-budget comparison of SSL methods, supervised and random init."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ecgssl.cli._common import (
    DeprecatedAlias,
    UserError,
    add_amp_arg,
    add_dataset_args,
    amp_setting,
    fractions,
    load_cli_dataset,
    load_spec_dataset,
    seeds,
)

__all__ = ["ABLATIONS", "add_parser", "split_methods"]

EPILOG = """examples:
  ecgssl compare                                   # built-in dataset, 3 seeds, 1/10/100 %
  ecgssl compare --ablations --seeds 0             # BELL gamma / branch / pair ablations
  ecgssl compare --dataset ludb --root data/ludb   # a real dataset on disk
  ecgssl compare --methods "bell:gamma=0.5,byol" --label-fractions 0.1 --steps 200
  ecgssl compare --config compare.toml             # options from a TOML file; flags win
  ecgssl compare --dataset npz --root ptbxl_super_100hz_dev.npz \\
      --pretrain-dataset '{"name": "combined", "datasets": [{"name": "npz", "root":
      "ptbxl_super_100hz_dev.npz"}, {"name": "hce", "root": "hce"}]}'   # pretrain on PTB-XL+HCE
Finished cells in OUT/results.csv are skipped: re-run the same command to resume.
Writes OUT/results.csv, results.md and (with matplotlib) the chart results.png.
"""

ABLATIONS = (
    "bell:gamma=1.0", "bell:gamma=0.5", "bell:gamma=0.0", "bell:shared_weights=true",
    "bell:inter_pairs=random",
)  # fmt: skip


def add_parser(sub: Any) -> argparse.ArgumentParser:
    c: argparse.ArgumentParser = sub.add_parser(
        "compare",
        help="same-budget comparison of SSL methods vs supervised vs random init",
        description="Pretrain every method with the same data, encoder and budget, then "
        "evaluate each (and the baselines) over label fractions and seeds.",
        epilog=EPILOG,
    )
    c.add_argument("--config", type=Path, default=None, help="TOML file of options")
    add_dataset_args(c, npz=True)
    c.add_argument("--methods", default="bell,byol,simclr,supervised,random_init",
                   help="comma-separated methods and baselines (random_init, random_init_bn: "
                   "random init with BatchNorm statistics from the pretraining records, "
                   "supervised); options as name:key=value")  # fmt: skip
    c.add_argument("--ablations", action="store_true",
                   help="add the BELL ablations (gamma 1/0.5/0, shared branches, random pair)")  # fmt: skip
    c.add_argument("--label-fractions", default="0.01,0.1,1.0",
                   help="comma-separated label fractions")  # fmt: skip
    c.add_argument("--fractions", dest="label_fractions", action=DeprecatedAlias,
                   new="--label-fractions")  # fmt: skip
    c.add_argument("--min-positives-per-class", type=int, default=0,
                   help="positive records per class forced into every label-fraction sample "
                   "(default 0: plain stratified fractions; 1: class-balanced few-shot sets)")  # fmt: skip
    c.add_argument("--pretrain-dataset", default=None,
                   help="pretrain the SSL methods on this dataset (name or JSON spec, e.g. a "
                   "combined set) instead of --dataset's train split")  # fmt: skip
    c.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    c.add_argument("--protocol", default="linear", help="linear, knn or finetune")
    c.add_argument("--epochs", type=int, default=None,
                   help="pretraining epochs per method (default: the recipes' budget, as in "
                   "`ecgssl pretrain`: 1000 steps at batch 64, at most 50 epochs)")  # fmt: skip
    c.add_argument("--steps", type=int, default=None,
                   help="pretraining budget in optimisation steps (replaces --epochs)")  # fmt: skip
    c.add_argument("--batch-size", type=int, default=None,
                   help="pretraining batch size (default: the recipes', 64)")  # fmt: skip
    c.add_argument("--lr", type=float, default=None,
                   help="pretraining learning rate (default: the recipes', 1e-3)")  # fmt: skip
    c.add_argument("--window", type=float, default=2.5, help="pretraining crop in seconds")
    c.add_argument("--device", default="auto", help="auto, cpu or cuda")
    add_amp_arg(c, "pretraining, embedding and fine-tuning")
    c.add_argument("--out", type=Path, default=None,
                   help="output folder (default benchmarks/results/<dataset>)")  # fmt: skip
    c.add_argument("--encoders-from", type=Path, default=None, metavar="DIR",
                   help="reuse the pretrained encoders of an earlier comparison's output folder "
                   "(same budget and data), e.g. to run --protocol finetune after linear")  # fmt: skip
    c.add_argument("--merge", type=Path, nargs="+", default=None, metavar="DIR",
                   help="merge these results folders (parts of one run, e.g. disjoint --methods "
                   "on two machines) into --out and write its tables; nothing is trained")  # fmt: skip
    c.add_argument("--no-progress", action="store_true", help="hide progress bars")
    c.set_defaults(handler=run)
    return c


def split_methods(text: str) -> list[str]:
    """Split "a,b:x=1,y=2,c" into entries; a comma followed by key=value continues an entry."""
    out: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if "=" in part and ":" not in part and out:
            out[-1] += "," + part
        else:
            out.append(part)
    return out


def run(args: argparse.Namespace) -> int:
    from ecgssl.compare import CompareConfig, merge_results, run_comparison

    if args.merge:
        if args.out is None:
            raise UserError("--merge needs --out, the folder to merge into")
        merge_results(args.out, args.merge)
        print(f"\n{(args.out / 'results.md').read_text()}")
        return 0

    methods = split_methods(args.methods)
    if args.ablations:
        methods += [m for m in ABLATIONS if m not in methods]
    config = CompareConfig(
        methods=methods, label_fractions=fractions(args.label_fractions), seeds=seeds(args.seeds),
        protocol=args.protocol, epochs=args.epochs, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
        window_seconds=args.window, device=args.device, amp=amp_setting(args.amp),
        min_positives_per_class=args.min_positives_per_class,
    )  # fmt: skip
    if args.npz is not None:
        dataset = load_cli_dataset(args)
        if dataset.labels is None:
            raise UserError(f"{args.npz} lacks array(s) ['labels']")
    else:
        dataset = load_cli_dataset(args, progress=not args.no_progress)
    print(dataset.summary())
    pretrain_data = None
    if args.pretrain_dataset is not None:
        pretrain_data = load_spec_dataset(args.pretrain_dataset, "--pretrain-dataset",
                                          progress=not args.no_progress)  # fmt: skip
        print(f"pretraining on {pretrain_data.summary()}")
    out = args.out or Path("benchmarks") / "results" / dataset.name
    t0 = time.perf_counter()
    run_comparison(dataset, config, out, progress=not args.no_progress,
                   pretrain_data=pretrain_data, encoders_from=args.encoders_from)  # fmt: skip
    print(f"\n{(out / 'results.md').read_text()}")
    print(f"finished in {(time.perf_counter() - t0) / 60:.1f} min; wrote {out}/results.csv, "
          f"results.md" + (", results.png" if (out / "results.png").exists() else
                            " (pip install 'ecgssl[plot]' for the chart results.png)"))  # fmt: skip
    return 0
