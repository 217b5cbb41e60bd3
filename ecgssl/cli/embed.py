"""``ecgssl embed``: embeddings of a dataset from a saved encoder, to .npy or .npz."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ecgssl.cli._common import (
    UserError,
    add_amp_arg,
    add_dataset_args,
    amp_setting,
    load_cli_dataset,
)

__all__ = ["add_parser"]

EPILOG = """examples:
  ecgssl embed runs/bell/encoder --out features.npz          # built-in dataset
  ecgssl embed runs/bell/encoder --dataset ludb --root ~/data/ludb --split test --out f.npy
  ecgssl embed runs/bell/encoder --npz my_ecgs.npz --per-lead --out leads.npy
.npy holds the embeddings only; .npz adds labels, classes, split and lead names.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "embed",
        help="embed a dataset with a saved encoder",
        description="Compute frozen-encoder embeddings (records, dim) of a dataset.",
        epilog=EPILOG,
    )
    p.add_argument("encoder", type=Path,
                   help="encoder folder (config.json + model.safetensors), checkpoint or "
                   "encoder.pt")  # fmt: skip
    p.add_argument("--config", type=Path, default=None, help="TOML file of options")
    add_dataset_args(p, npz=True)
    p.add_argument("--split", default=None, choices=["train", "val", "test"],
                   help="only this split (default: all records)")  # fmt: skip
    p.add_argument("--per-lead", action="store_true",
                   help="per-lead latents (records, leads, dim); multi-branch encoders only")  # fmt: skip
    p.add_argument("--batch-size", type=int, default=256, help="records per forward pass")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    add_amp_arg(p, "the forward passes")
    p.add_argument("--out", type=Path, required=True, help="output .npy or .npz file")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(handler=run)
    return p


def run(args: argparse.Namespace) -> int:
    import numpy as np

    import ecgssl
    from ecgssl.training.encoder_files import read_encoder

    if args.out.suffix not in (".npy", ".npz"):
        raise UserError(f"--out must end in .npy or .npz, got {args.out}")
    encoder, card = read_encoder(args.encoder)
    dataset = load_cli_dataset(args, progress=not args.no_progress)
    if args.split is not None:
        if dataset.split is None:
            raise UserError(f"dataset {dataset.name!r} has no splits; drop --split")
        dataset = dataset.subset(args.split)
    if card.get("leads") and list(card["leads"]) != list(dataset.leads):
        raise UserError(
            f"the encoder was trained on leads {card['leads']} but the data have "
            f"{list(dataset.leads)}"
        )
    if card.get("fs") and float(card["fs"]) != float(dataset.fs):
        raise UserError(
            f"the encoder was trained at {card['fs']:g} Hz but the data are at {dataset.fs:g} Hz"
        )
    features = ecgssl.embed(encoder, dataset.signals, batch_size=args.batch_size,
                            device=args.device, per_lead=args.per_lead,
                            amp=amp_setting(args.amp))  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.suffix == ".npy":
        np.save(args.out, features)
    else:
        extra: dict[str, Any] = {"leads": np.array(dataset.leads), "fs": np.float64(dataset.fs)}
        if dataset.labels is not None:
            extra["labels"] = dataset.labels
            extra["classes"] = np.array(dataset.classes)
        if dataset.split is not None:
            extra["split"] = np.asarray(dataset.split)
        np.savez(args.out, embeddings=features, **extra)
    print(f"wrote {args.out}: embeddings {features.shape}")
    return 0
