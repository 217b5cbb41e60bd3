"""Quickstart: pretrain BELL on the built-in dataset and compare it with a random encoder.

python examples/01_quickstart.py          # about 5 minutes on 2 CPU cores
python examples/01_quickstart.py --fast   # a smoke run in well under a minute
"""

from __future__ import annotations

import argparse

import torch

import ecgssl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="tiny dataset, encoder and budget")
    args = parser.parse_args()

    if args.fast:
        data = ecgssl.load_dataset("synthetic", n_records=40, progress=False)
        encoder = {"name": "multibranch", "width": 8, "per_lead_dim": 16}
        budget = {"epochs": 1, "batch_size": 16, "progress": False}
    else:
        data = ecgssl.load_dataset("synthetic")  # 1000 simulated 12-lead ECGs, cached
        encoder, budget = None, {}  # the method's default encoder and training settings
    print(data.summary())

    # 1. Pretrain BELL on the train split (labels are not used).
    result = ecgssl.pretrain(method="bell", dataset=data, encoder=encoder, gamma=0.8, **budget)
    print(f"final loss {result.final_loss:.4f} after {len(result.history)} epochs")

    # 2. A randomly initialised encoder of the same architecture is the honest baseline.
    torch.manual_seed(123)
    random_encoder = ecgssl.build_encoder(result.encoder.config, data.n_leads)

    # 3. Linear probe on frozen embeddings with few and with all labels.
    for fraction in (0.1, 1.0):
        bell = ecgssl.evaluate(result, data, label_fraction=fraction).macro_auroc
        rand = ecgssl.evaluate(random_encoder, data, label_fraction=fraction).macro_auroc
        print(f"{fraction:>5.0%} labels: BELL {bell:.4f}  random init {rand:.4f}")

    # 4. Embeddings for your own downstream model: (records, leads * per-lead dim).
    features = ecgssl.embed(result, data.signals[:4])
    print("embeddings:", features.shape)


if __name__ == "__main__":
    main()
