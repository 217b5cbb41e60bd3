"""PTB-XL: pretrain BELL on the training folds, then linear-probe the superdiagnostic task
with 1 %, 10 % and 100 % of the labels, next to a random-init encoder.

python examples/05_ptbxl_linear_probe.py --root ~/data/ptb-xl-1.0.3          # hours on a CPU
python examples/05_ptbxl_linear_probe.py --root ~/data/ptb-xl-1.0.3 --fast   # minutes

PTB-XL is not downloaded for you: get it from https://physionet.org/content/ptb-xl/1.0.3/
and give its folder (the one holding ptbxl_database.csv) as --root (docs/datasets.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import ecgssl


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="PTB-XL 1.0.3 folder")
    parser.add_argument("--task", default="superdiagnostic", help="PTB-XL label task")
    parser.add_argument("--fast", action="store_true", help="tiny encoder and budget")
    args = parser.parse_args()
    if args.root is None or not (args.root.expanduser() / "ptbxl_database.csv").is_file():
        where = "no --root given" if args.root is None else f"no ptbxl_database.csv in {args.root}"
        print(f"PTB-XL not found ({where}): give --root /path/to/ptb-xl-1.0.3 to run this "
              "example (download: https://physionet.org/content/ptb-xl/1.0.3/). Nothing to do.")  # fmt: skip
        return 0

    # 100 Hz, 10 s records, official folds: 1-8 train, 9 validation, 10 test.
    data = ecgssl.load_dataset("ptbxl", root=args.root.expanduser(), task=args.task, fs=100)
    print(data.summary())
    n_train = len(data.subset("train"))
    if n_train < 100:  # e.g. the header file and a handful of records only
        print(f"only {n_train} training records under {args.root}: this example needs the full "
              "PTB-XL (21,799 records). Nothing to do.")  # fmt: skip
        return 0
    if args.fast:
        encoder = {"name": "multibranch", "width": 8, "per_lead_dim": 16}
        budget = {"epochs": 1, "batch_size": 64}
    else:
        encoder, budget = None, {}  # BELL's real-data recipe (docs/recipe.md): 1000 steps
    result = ecgssl.pretrain("bell", data, encoder=encoder, **budget)
    torch.manual_seed(0)  # pretrain()'s default seed: the same initial weights, untrained
    random_init = ecgssl.build_encoder(result.encoder.config, data.n_leads)
    for fraction in (0.01, 0.1, 1.0):
        bell = ecgssl.evaluate(result, data, label_fraction=fraction).macro_auroc
        rand = ecgssl.evaluate(random_init, data, label_fraction=fraction).macro_auroc
        print(f"{fraction:>5.0%} labels: BELL {bell:.4f}  random init {rand:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
