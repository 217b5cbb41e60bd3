"""A stronger random-init baseline on the PTB-XL dev protocol: BatchNorm statistics from data.

An untrained encoder's BatchNorm layers keep their initial statistics (mean 0, variance 1).
Recomputing them on the unlabeled pretraining records (folds 1-7) with
:func:`ecgssl.evaluation.recalibrate_batchnorm` is one forward pass, not training, and it
makes random init markedly stronger. This script scores that baseline exactly like
``ptbxl_dev.py`` scores its arms (same seeds, hence the same initial weights; same label
samples; probe C on fold 8; ``--report`` scores fold 9 once) and saves its per-record scores
beside the recipes' (``random_bn_sSEED.npz``), so that ``ptbxl_dev_report.py`` can pair every
recipe with it.

Example::

    python benchmarks/ptbxl_random_bn.py --report --seeds 0 1 2 \\
        --scores-dir benchmarks/results/ptbxl-dev/scores
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

import ecgssl
from ecgssl.evaluation import recalibrate_batchnorm
from ecgssl.methods.bell import BELL

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ptbxl_dev import SHARED, load_ptbxl, probe


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--label-seeds", type=int, default=5)
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    ap.add_argument("--report", action="store_true", help="score fold 9 (test) once")
    ap.add_argument("--data", type=Path, default=SHARED / "ptbxl_super_100hz_dev.npz")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--scores-dir", type=Path, default=None)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    ds = load_ptbxl(a.data, a.report)
    train = ds.subset("train").signals  # the pretraining records; never the scored ones
    for seed in a.seeds:
        torch.manual_seed(seed)  # the same initial weights as ptbxl_dev.py's arms
        enc = ecgssl.build_encoder(BELL.default_encoder(), ds.n_leads).eval()
        recalibrate_batchnorm(enc, train, device="cpu")  # plain random init: ptbxl_dev.py's arm
        calibrated = probe(enc, ds, a.fractions, a.label_seeds, False, seed)
        scores = calibrated.pop("scores")
        key = "test" if a.report else "val"
        row = {"seed": seed, "mode": "report" if a.report else "dev",
               **{f"random_bn/{k}": v for k, v in calibrated.items() if f"_{key}@" in k}}  # fmt: skip
        print(json.dumps(row), flush=True)
        if a.scores_dir is not None and a.report:
            a.scores_dir.mkdir(parents=True, exist_ok=True)
            np.savez(a.scores_dir / f"random_bn_s{seed}.npz",
                     **{f"random_bn/{k}": v for k, v in scores.items()})  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
