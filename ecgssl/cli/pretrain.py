"""``ecgssl pretrain``: pretrain an encoder, then probe it next to a random-init encoder."""

from __future__ import annotations

import argparse
import json
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
    parse_sets,
    parse_spec,
    seeds,
)

__all__ = ["add_parser"]

EPILOG = """examples:
  ecgssl pretrain --method bell                  # built-in dataset, BELL vs random init
  ecgssl pretrain --method simclr --epochs 20 --out runs/simclr
  ecgssl pretrain --method bell --set gamma=1.0  # method hyperparameters as KEY=VALUE
  ecgssl pretrain --dataset ludb --root ~/data/ludb   # a real database (docs/datasets.md)
  ecgssl pretrain --dataset ptbxl --root ~/data/ptb-xl --task rhythm
  ecgssl pretrain --config run.toml --epochs 5   # options from a TOML file; flags win
  ecgssl pretrain --out runs/bell --plot         # + runs/bell/training_curves.png
  ecgssl pretrain --out runs/bell --monitor-every 50 --tensorboard
                                                 # kNN AUROC on val every 50 steps; OUT/log.jsonl,
                                                 # OUT/history.csv, OUT/tensorboard/
  ecgssl pretrain --encoder '{"name": "resnet1d", "width": 16}' --method simclr
  ecgssl pretrain --dataset ptbxl --root ~/data/ptb-xl --dataset-option fs=500 --window 10 \\
      --batch-size 256 --activation-checkpointing --set tune_cpu_malloc=false --amp off
                                                 # 500 Hz x 10 s, batch 256 in ~11 GiB (CPU)

run.toml:
  method = "bell"
  epochs = 20
  batch-size = 64
  out = "runs/bell"
  encoder = {name = "multibranch", per_lead_dim = 64}
  [set]
  gamma = 0.8
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "pretrain",
        help="pretrain an encoder, then compare its linear probe with a random-init encoder",
        description="Pretrain an encoder with a self-supervised method on the train split, "
        "then report the linear-probe macro AUROC of it and of a random-init encoder.",
        epilog=EPILOG,
    )
    p.add_argument("--config", type=Path, default=None, help="TOML file of options")
    p.add_argument("--method", default="bell", help="SSL method (see `ecgssl list methods`)")
    add_dataset_args(p)
    p.add_argument("--encoder", default=None,
                   help="encoder name or JSON spec, e.g. '{\"name\": \"resnet1d\", \"width\": 16}' "
                   "(default: the method's)")  # fmt: skip
    p.add_argument("--epochs", type=int, default=None, help="training epochs")
    p.add_argument("--steps", type=int, default=None,
                   help="training budget in optimisation steps (replaces --epochs; schedules "
                   "are laid out over the steps)")  # fmt: skip
    p.add_argument("--batch-size", type=int, default=None, help="records per step")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate")
    p.add_argument("--seeds", default="0",
                   help="random seed, or comma-separated seeds: one pretraining per seed "
                   "(OUT/seedN each), then the mean over seeds")  # fmt: skip
    p.add_argument("--seed", dest="seeds", action=DeprecatedAlias, new="--seeds")
    p.add_argument("--resume", nargs="?", const="auto", default=None, metavar="CHECKPOINT",
                   help="continue an interrupted run: from the newest checkpoint in "
                   "OUT/checkpoints (no value) or from CHECKPOINT")  # fmt: skip
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--stream", action=argparse.BooleanOptionalAction, default=None,
                   help="read training batches from the dataset's cache as training goes "
                   "instead of copying the train split into memory (default: stream "
                   "memory-mapped, i.e. cached, datasets); see docs/large-corpora.md")  # fmt: skip
    add_amp_arg(p, "the training forward passes")
    p.add_argument("--activation-checkpointing", action="store_true",
                   help="keep only each encoder block's input and recompute the rest in "
                   "backward: much less memory (long records, big batches) for about one more "
                   "forward pass per step")  # fmt: skip
    p.add_argument("--window", type=float, default=2.5, help="training window in seconds")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for the encoder (OUT/encoder: config.json + model.safetensors), "
                   "checkpoints, logs and results (default: a new folder runs/METHOD-N under "
                   "$ECGSSL_RUNS_DIR, else ./runs; printed at the start)")  # fmt: skip
    p.add_argument("--label-fractions", default="0.01,0.1,1.0",
                   help="comma-separated label fractions for the linear probe")  # fmt: skip
    p.add_argument("--no-baseline", action="store_true", help="skip the random-init baseline")
    p.add_argument("--no-progress", action="store_true",
                   help="hide progress bars and the per-epoch lines")  # fmt: skip
    p.add_argument("--monitor-every", type=int, default=None, metavar="N",
                   help="online monitor: probe the encoder on the labelled val split every N "
                   "steps (AUROC in the logs and history)")  # fmt: skip
    p.add_argument("--monitor", choices=("knn", "linear"), default="knn",
                   help="online monitor probe (default knn)")  # fmt: skip
    p.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard events to OUT/tensorboard (needs --out and "
                   "pip install 'ecgssl[tensorboard]')")  # fmt: skip
    p.add_argument("--plot", nargs="?", const="auto", default=None, metavar="PNG",
                   help="save training curves (loss, lr, representation health) as PNG; "
                   "default OUT/training_curves.png (needs matplotlib: pip install "
                   "'ecgssl[plot]')")  # fmt: skip
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="method or training option, e.g. --set gamma=0.5")  # fmt: skip
    p.set_defaults(handler=run)
    return p


def _plot_path(args: argparse.Namespace) -> Path | None:
    if args.plot is None:
        return None
    from ecgssl.cli.plot import require_matplotlib

    require_matplotlib("pretrain --plot")  # fail before training, not after
    if args.plot != "auto":
        return Path(args.plot)
    return (args.out or Path(".")) / "training_curves.png"


def run(args: argparse.Namespace) -> int:
    import ecgssl

    fracs = fractions(args.label_fractions)
    seed_list = seeds(args.seeds)
    plot_path = _plot_path(args)
    overrides = parse_sets(args.set)
    for key in ("epochs", "steps", "batch_size", "lr", "stream"):
        if getattr(args, key, None) is not None:
            overrides[key] = getattr(args, key)
    if args.amp is not None:
        overrides["amp"] = amp_setting(args.amp)
    if args.activation_checkpointing:
        overrides["activation_checkpointing"] = True
    if args.tensorboard and args.out is None and "log_dir" not in overrides:
        raise UserError("--tensorboard needs --out (the events go to OUT/tensorboard)")
    if args.resume == "auto" and args.out is None and "checkpoint_dir" not in overrides:
        raise UserError("--resume without a checkpoint needs --out (it looks in OUT/checkpoints)")
    if args.resume not in (None, "auto") and len(seed_list) > 1:
        raise UserError("--resume CHECKPOINT resumes one run: give a single seed")
    # A typo in the method, a bad encoder spec or a bad training option fails before the data
    # are loaded (or simulated).
    ecgssl.METHODS.canonical(args.method)
    encoder = parse_spec(args.encoder, "--encoder")
    _check_training_options(args, overrides)
    if args.out is None:
        args.out = default_out(args.method)
        print(f"saving the run to {args.out} (choose another folder with --out)")
    dataset = load_cli_dataset(args, progress=not args.no_progress)
    print(dataset.summary())
    results = []
    for seed in seed_list:
        out = args.out
        if out is not None and len(seed_list) > 1:
            out = out / f"seed{seed}"
            print(f"\n== seed {seed} -> {out}")
        results.append(_run_one(args, dataset, encoder, dict(overrides), fracs, seed, out,
                                plot_path))  # fmt: skip
    if len(seed_list) > 1 and results[0] is not None:
        _print_mean(args, fracs, seed_list, results)
    return 0


def default_out(method: str) -> Path:
    """A new run folder: ``$ECGSSL_RUNS_DIR/METHOD-N`` (default ``./runs``), N = 1, 2, ..."""
    import os

    root = Path(os.environ.get("ECGSSL_RUNS_DIR") or "runs").expanduser()
    n = 1
    while (root / f"{method}-{n}").exists():
        n += 1
    return root / f"{method}-{n}"


def _check_training_options(args: argparse.Namespace, overrides: dict[str, Any]) -> None:
    """Validate the training settings given on the command line (``PretrainConfig``'s own
    checks) and the CLI's numbers, without touching the data."""
    from dataclasses import fields

    from ecgssl.training.config import PretrainConfig

    names = {f.name for f in fields(PretrainConfig)} - {"resume", "checkpoint_dir", "log_dir"}
    PretrainConfig(**{k: v for k, v in overrides.items() if k in names})
    if not args.window > 0:
        raise UserError(f"--window must be > 0 seconds, got {args.window}")
    if args.monitor_every is not None and args.monitor_every < 1:
        raise UserError(f"--monitor-every must be >= 1, got {args.monitor_every}")


def _print_mean(args: argparse.Namespace, fracs: list[float], seed_list: list[int],
                results: list[Any]) -> None:  # fmt: skip
    """Mean ± sd over seeds of the pretrained and random-init probes, and of the paired gain."""
    import numpy as np

    if not fracs or not results[0]:
        return
    print(f"\nMean over seeds {seed_list} (macro AUROC, ± sd; gain = paired difference):")
    print(f"{'labels':>8}  {args.method:>18}  {'random init':>18}  {'gain':>18}")
    for i, f in enumerate(fracs):
        ssl = np.array([r[i][1].metrics["macro_auroc"] for r in results])
        if results[0][i][2] is None:
            print(f"{f:>8.0%}  {ssl.mean():>10.4f} ± {ssl.std():.4f}")
            continue
        rnd = np.array([r[i][2].metrics["macro_auroc"] for r in results])
        gain = ssl - rnd
        print(f"{f:>8.0%}  {ssl.mean():>10.4f} ± {ssl.std():.4f}  {rnd.mean():>10.4f} ± "
              f"{rnd.std():.4f}  {gain.mean():>+10.4f} ± {gain.std():.4f}")  # fmt: skip


def _run_one(
    args: argparse.Namespace, dataset: Any, encoder: Any, overrides: dict[str, Any],
    fracs: list[float], seed: int, out: Path | None, plot_path: Path | None,
) -> list[Any]:  # fmt: skip
    """One pretraining, its linear probes and the random-init baseline; the probe rows."""
    import torch

    import ecgssl
    from ecgssl.evaluation import evaluate_fractions

    if out is not None:
        overrides.setdefault("checkpoint_dir", str(out / "checkpoints"))
        overrides.setdefault("log_dir", str(out))  # OUT/log.jsonl, OUT/history.csv
    if args.tensorboard:
        overrides["tensorboard"] = True
    if args.resume is not None:
        overrides["resume"] = args.resume
    if plot_path is not None and out is not None and out != args.out:
        plot_path = out / plot_path.name
    t0 = time.perf_counter()
    result = ecgssl.pretrain(
        method=args.method, dataset=dataset, encoder=encoder,
        seed=seed,
        device=args.device, window_seconds=args.window, progress=not args.no_progress,
        monitor_every=args.monitor_every, monitor=args.monitor, **overrides,
    )  # fmt: skip
    from ecgssl.training.distributed import is_main_process

    if not is_main_process():  # under torchrun, only rank 0 evaluates, prints and writes
        return []
    minutes = (time.perf_counter() - t0) / 60
    last = result.history[-1]
    print(
        f"pretrained {args.method} for {last.get('step', 0)} steps ({len(result.history)} "
        f"epochs) in {minutes:.1f} min "
        f"(final loss {last['loss']:.4f}, {last['samples_per_s']:.0f} samples/s)"
    )
    if plot_path is not None:
        from ecgssl.cli.plot import plot_history

        print(f"wrote {plot_history(result.history, plot_path, title=args.method)}")

    def probe(encoder: Any) -> list[Any]:
        return evaluate_fractions(
            encoder, dataset, fracs, seed=seed, device=args.device, amp=amp_setting(args.amp)
        )

    if dataset.labels is None or dataset.split is None:
        print(
            f"{dataset.name} has no labels (or no split): no linear probe. Evaluate the "
            "encoder on a labeled dataset with `ecgssl evaluate OUT/encoder --dataset ...`"
        )
        fracs = []
    ssl_res = probe(result.encoder) if fracs else []
    rand_res: list[Any] = [None] * len(fracs)
    if fracs and not args.no_baseline:
        torch.manual_seed(seed)  # the pretrained encoder's initial weights, untrained
        rand_res = probe(ecgssl.build_encoder(result.encoder.config, dataset.n_leads))
    rows = [(f"{f:.0%}", s, r) for f, s, r in zip(fracs, ssl_res, rand_res)]
    name = f"{args.method} ({result.encoder.config['name']})"
    if rows:
        print(
            f"\nLinear-probe macro AUROC on the {dataset.name} test split "
            f"(n = {ssl_res[0].n_test}; [bootstrap 95 % CI]; labeled records per fraction: "
            f"{', '.join(str(r.n_train) for r in ssl_res)}):"
        )
        print(f"{'labels':>8}  {name:>30}  {'random init (same arch.)':>30}")

    def cell(res: Any) -> str:
        if res is None:
            return "–"
        m = res.metrics
        return f"{m['macro_auroc']:.4f} [{m['macro_auroc_ci_low']:.3f}, {m['macro_auroc_ci_high']:.3f}]"

    for frac_s, a, b in rows:
        print(f"{frac_s:>8}  {cell(a):>30}  {cell(b):>30}")
    if out is None:
        return rows
    out.mkdir(parents=True, exist_ok=True)
    folder = result.save_pretrained(out / "encoder")
    summary = {
        "method": args.method, "seed": seed, "history": result.history,
        "linear_probe": [
            {"label_fraction": r[0], "n_labeled": r[1].n_train, "ssl": r[1].metrics,
             "random_init": r[2].metrics if r[2] is not None else None}
            for r in rows
        ],
    }  # fmt: skip
    from ecgssl.data.cache import atomic_write_bytes

    atomic_write_bytes(out / "results.json", json.dumps(summary, indent=2).encode())
    print(f"\nwrote {folder} (config.json + model.safetensors) and {out / 'results.json'}")
    print(f"export it with: ecgssl export {folder} --out {out / 'export'}")
    return rows
