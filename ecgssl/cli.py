"""Command line: ``ecgssl pretrain``, ``ecgssl compare``, ``ecgssl list``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

_EPILOG_PRETRAIN = """examples:
  ecgssl pretrain --method bell                  # built-in dataset, BELL vs random init
  ecgssl pretrain --method simclr --epochs 20 --out runs/simclr
  ecgssl pretrain --method bell --set gamma=1.0  # method hyperparameters as KEY=VALUE
  ecgssl pretrain --dataset ludb --root ~/data/ludb   # a real database (docs/datasets.md)
  ecgssl pretrain --dataset ptbxl --root ~/data/ptb-xl --task rhythm
"""


_EPILOG_COMPARE = """examples:
  ecgssl compare                                   # built-in dataset, 3 seeds, 1/10/100 %
  ecgssl compare --ablations --seeds 0             # BELL gamma / branch / pair ablations
  ecgssl compare --dataset ludb --root data/ludb   # a real dataset on disk
  ecgssl compare --methods "bell:gamma=0.5,byol" --fractions 0.1 --epochs 5
Finished cells in OUT/results.csv are skipped: re-run the same command to resume.
"""

ABLATIONS = (
    "bell:gamma=1.0", "bell:gamma=0.5", "bell:gamma=0.0", "bell:shared_weights=true",
    "bell:inter_pairs=random",
)  # fmt: skip


class UserError(Exception):
    """An error caused by the user's input: printed as one line, exit code 2."""


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _parse_sets(items: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = _parse_value(value)
    return out


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecgssl", description="Self-supervised learning for multi-lead ECGs."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "pretrain",
        help="pretrain an encoder, then compare its linear probe with a random-init encoder",
        epilog=_EPILOG_PRETRAIN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--method", default="bell", help="SSL method (see `ecgssl list methods`)")
    p.add_argument("--dataset", default="synthetic", help="dataset name (default: synthetic)")
    p.add_argument("--encoder", default=None, help="encoder name (default: the method's)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs")
    p.add_argument("--batch-size", type=int, default=None, help="records per step")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--window", type=float, default=2.5, help="training window in seconds")
    p.add_argument("--n-records", type=int, default=None, help="synthetic dataset size")
    p.add_argument("--root", type=Path, default=None,
                   help="data folder of a real dataset (ptbxl, ludb, physionet2021...)")  # fmt: skip
    p.add_argument("--task", default=None, help="label task of the dataset (e.g. ptbxl: rhythm)")
    p.add_argument("--out", type=Path, default=None, help="folder for checkpoints and results")
    p.add_argument("--label-fractions", default="0.01,0.1,1.0",
                   help="comma-separated label fractions for the linear probe")  # fmt: skip
    p.add_argument("--no-baseline", action="store_true", help="skip the random-init baseline")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="method or training option, e.g. --set gamma=0.5")  # fmt: skip

    c = sub.add_parser(
        "compare",
        help="same-budget comparison of SSL methods vs supervised vs random init",
        epilog=_EPILOG_COMPARE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("--dataset", default="synthetic", help="registered dataset (default synthetic)")
    c.add_argument("--root", type=Path, default=None, help="dataset folder (real datasets)")
    c.add_argument("--npz", type=Path, default=None,
                   help="arrays instead of a dataset: .npz with signals, fs, labels[, split]")  # fmt: skip
    c.add_argument("--n-records", type=int, default=None, help="synthetic dataset size")
    c.add_argument("--methods", default="bell,byol,simclr,supervised,random_init",
                   help="comma-separated methods/baselines; options as name:key=value")  # fmt: skip
    c.add_argument("--ablations", action="store_true",
                   help="add the BELL ablations (gamma 1/0.5/0, shared branches, random pair)")  # fmt: skip
    c.add_argument("--fractions", default="0.01,0.1,1.0", help="label fractions")
    c.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    c.add_argument("--protocol", default="linear", help="linear, knn or finetune")
    c.add_argument("--epochs", type=int, default=20, help="pretraining epochs per method")
    c.add_argument("--batch-size", type=int, default=64, help="pretraining batch size")
    c.add_argument("--lr", type=float, default=1e-3, help="pretraining learning rate")
    c.add_argument("--window", type=float, default=2.5, help="pretraining crop in seconds")
    c.add_argument("--device", default="auto", help="auto, cpu or cuda")
    c.add_argument("--out", type=Path, default=None,
                   help="output folder (default benchmarks/results/<dataset>)")  # fmt: skip
    c.add_argument("--no-progress", action="store_true", help="hide progress bars")

    ls = sub.add_parser("list", help="list registered components")
    ls.add_argument("kind", choices=["methods", "encoders", "augmentations", "datasets"])
    return parser


def _fractions(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as e:
        raise UserError(f"--label-fractions must be comma-separated numbers, got {text!r}") from e
    if not values or any(not 0 < v <= 1 for v in values):
        raise UserError(f"label fractions must lie in (0, 1], got {text!r}")
    return values


def _cmd_pretrain(args: argparse.Namespace) -> int:
    import torch

    import ecgssl
    from ecgssl.training.checkpoint import atomic_torch_save

    fractions = _fractions(args.label_fractions)
    overrides = _parse_sets(args.set)
    for key in ("epochs", "batch_size", "lr"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    dataset_kwargs: dict[str, Any] = {"progress": not args.no_progress}
    if args.n_records is not None:
        dataset_kwargs["n_records"] = args.n_records
    if args.root is not None:
        dataset_kwargs["root"] = args.root
    if args.task is not None:
        dataset_kwargs["task"] = args.task
    if args.out is not None:
        overrides.setdefault("checkpoint_dir", str(args.out / "checkpoints"))
    dataset = ecgssl.load_dataset(args.dataset, **dataset_kwargs)
    print(dataset.summary())
    t0 = time.perf_counter()
    result = ecgssl.pretrain(
        method=args.method, dataset=dataset, encoder=args.encoder, seed=args.seed,
        device=args.device, window_seconds=args.window, progress=not args.no_progress,
        **overrides,
    )  # fmt: skip
    minutes = (time.perf_counter() - t0) / 60
    last = result.history[-1]
    print(
        f"pretrained {args.method} for {len(result.history)} epochs in {minutes:.1f} min "
        f"(final loss {last['loss']:.4f}, {last['samples_per_s']:.0f} samples/s)"
    )
    from ecgssl.evaluation import evaluate_fractions

    def probe(encoder: Any) -> list[Any]:
        return evaluate_fractions(encoder, dataset, fractions, seed=args.seed, device=args.device)

    ssl_res = probe(result.encoder)
    rand_res: list[Any] = [None] * len(fractions)
    if not args.no_baseline:
        torch.manual_seed(args.seed + 1000)
        rand_res = probe(ecgssl.build_encoder(result.encoder.config, dataset.n_leads))
    rows = [(f"{f:.0%}", s, r) for f, s, r in zip(fractions, ssl_res, rand_res)]
    name = f"{args.method} ({result.encoder.config['name']})"
    print(
        f"\nLinear-probe macro AUROC on the {dataset.name} test split (n = {ssl_res[0].n_test}; "
        "[bootstrap 95 % CI]):"
    )
    print(f"{'labels':>8}  {name:>30}  {'random init (same arch.)':>30}")

    def cell(res: Any) -> str:
        if res is None:
            return "–"
        m = res.metrics
        return f"{m['macro_auroc']:.4f} [{m['macro_auroc_ci_low']:.3f}, {m['macro_auroc_ci_high']:.3f}]"

    for frac_s, a, b in rows:
        print(f"{frac_s:>8}  {cell(a):>30}  {cell(b):>30}")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        atomic_torch_save(
            {"encoder": result.encoder.config, "state_dict": result.encoder.state_dict()},
            args.out / "encoder.pt",
        )
        summary = {
            "method": args.method, "history": result.history,
            "linear_probe": [
                {"label_fraction": r[0], "ssl": r[1].metrics,
                 "random_init": r[2].metrics if r[2] is not None else None}
                for r in rows
            ],
        }  # fmt: skip
        (args.out / "results.json").write_text(json.dumps(summary, indent=2))
        print(f"\nwrote {args.out / 'encoder.pt'} and {args.out / 'results.json'}")
    return 0


def _split_methods(text: str) -> list[str]:
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


def _cmd_compare(args: argparse.Namespace) -> int:
    import numpy as np

    import ecgssl
    from ecgssl.compare import CompareConfig, run_comparison

    methods = _split_methods(args.methods)
    if args.ablations:
        methods += [m for m in ABLATIONS if m not in methods]
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError as e:
        raise UserError(f"--seeds must be comma-separated integers, got {args.seeds!r}") from e
    config = CompareConfig(
        methods=methods, label_fractions=_fractions(args.fractions), seeds=seeds,
        protocol=args.protocol, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        window_seconds=args.window, device=args.device,
    )  # fmt: skip
    if args.npz is not None:
        if not args.npz.exists():
            raise UserError(f"--npz file {args.npz} does not exist")
        with np.load(args.npz, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        missing = {"signals", "fs", "labels"} - set(arrays)
        if missing:
            raise UserError(f"{args.npz} lacks array(s) {sorted(missing)}")
        dataset = ecgssl.load_dataset(
            "arrays", signals=arrays["signals"], fs=float(arrays["fs"]), labels=arrays["labels"],
            split=arrays.get("split"), name=args.npz.stem,
        )  # fmt: skip
    else:
        kwargs: dict[str, Any] = {}
        if args.root is not None:
            kwargs["root"] = args.root
        if args.n_records is not None:
            kwargs["n_records"] = args.n_records
        if args.dataset in ("synthetic", "simulated"):
            kwargs["progress"] = not args.no_progress
        dataset = ecgssl.load_dataset(args.dataset, **kwargs)
    print(dataset.summary())
    out = args.out or Path("benchmarks") / "results" / dataset.name
    t0 = time.perf_counter()
    run_comparison(dataset, config, out, progress=not args.no_progress)
    print(f"\n{(out / 'results.md').read_text()}")
    print(f"finished in {(time.perf_counter() - t0) / 60:.1f} min; wrote {out}/results.csv, "
          f"results.md" + (", results.png" if (out / "results.png").exists() else
                            " (pip install matplotlib for results.png)"))  # fmt: skip
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    import ecgssl

    listing = {
        "methods": ecgssl.list_methods,
        "encoders": ecgssl.list_encoders,
        "augmentations": ecgssl.list_augmentations,
        "datasets": ecgssl.list_datasets,
    }[args.kind]()
    print("\n".join(listing))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ecgssl`` command line; returns the exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    handlers = {"pretrain": _cmd_pretrain, "compare": _cmd_compare, "list": _cmd_list}
    try:
        return handlers[args.command](args)
    except (UserError, ValueError, TypeError, KeyError, FileNotFoundError) as e:
        if args.debug:
            raise
        print(f"ecgssl: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ecgssl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
