"""Command line: ``ecgssl pretrain``, ``ecgssl evaluate``, ``ecgssl list``."""

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
    p.add_argument("--label-fractions", default="0.1,1.0",
                   help="comma-separated label fractions for the linear probe")  # fmt: skip
    p.add_argument("--no-baseline", action="store_true", help="skip the random-init baseline")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="method or training option, e.g. --set gamma=0.5")  # fmt: skip

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
    rows: list[tuple[str, float, float]] = []
    random_enc = None
    if not args.no_baseline:
        torch.manual_seed(args.seed + 1000)
        random_enc = ecgssl.build_encoder(result.encoder.config, dataset.n_leads)
    for frac in fractions:
        ssl_auc = ecgssl.evaluate(result.encoder, dataset, label_fraction=frac, seed=args.seed)
        rand_auc = (
            ecgssl.evaluate(random_enc, dataset, label_fraction=frac, seed=args.seed).macro_auroc
            if random_enc is not None
            else float("nan")
        )
        rows.append((f"{frac:.0%}", ssl_auc.macro_auroc, rand_auc))
    name = f"{args.method} ({result.encoder.config['name']})"
    print(f"\nLinear-probe macro AUROC on the {dataset.name} test split ({rows and len(rows)} "
          f"label fraction(s)):")  # fmt: skip
    print(f"{'labels':>8}  {name:>28}  {'random init (same arch.)':>26}")
    for frac_s, a, b in rows:
        print(f"{frac_s:>8}  {a:>28.4f}  {b:>26.4f}")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        atomic_torch_save(
            {"encoder": result.encoder.config, "state_dict": result.encoder.state_dict()},
            args.out / "encoder.pt",
        )
        summary = {
            "method": args.method, "history": result.history,
            "linear_probe": [{"label_fraction": r[0], "ssl": r[1], "random_init": r[2]} for r in rows],
        }  # fmt: skip
        (args.out / "results.json").write_text(json.dumps(summary, indent=2))
        print(f"\nwrote {args.out / 'encoder.pt'} and {args.out / 'results.json'}")
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
    handlers = {"pretrain": _cmd_pretrain, "list": _cmd_list}
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
