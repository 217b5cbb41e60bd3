"""Fine-tuning protocols on the PTB-XL dev archive: saved encoders and random init.

Takes encoders saved by ``ptbxl_dev.py --save-dir DIR`` (``TAG_sSEED.pt``) and/or
``--random-seeds``, and fine-tunes each on 10 % label samples of folds 1-7 with early stopping
on fold 8, once per protocol in the grid ``--head-init`` x ``--encoder-lr-ratio`` x
``--epochs`` x ``--batchnorm``. For a saved encoder the untrained encoder with the same initial weights
(``torch.manual_seed(SEED)``, as ptbxl_dev.py builds it) is fine-tuned too, so each row is
paired; ``--random-seeds`` fine-tunes untrained encoders alone (the supervised baseline).

Dev mode scores fold 8 (the early-stopping AUROC, optimistic for every arm alike) and never
reads fold 9; ``--report`` also scores fold 9 once and saves its per-record scores
(``--scores-dir``), for protocols chosen on fold 8. One JSON line per encoder, label sample
and protocol.

Example::

    python benchmarks/ptbxl_finetune.py /tmp/encoders_vc/*.pt --label-seeds 2 \\
        --head-init random probe --encoder-lr-ratio 0.1 1.0 --epochs 40 100 --out study.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

import ecgssl
from ecgssl.data.sampling import label_fraction_indices
from ecgssl.evaluation.finetune import HEAD_INITS, FinetuneConfig, finetune
from ecgssl.evaluation.metrics import macro_auroc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ptbxl_dev import SHARED, load_ptbxl
from ptbxl_dev_report import paired_gain_ci


def _arms(path: Path | None, seed: int, n_leads: int) -> list[tuple[str, ecgssl.Encoder]]:
    """("ssl", saved encoder) and ("random", same initial weights), or random alone."""
    if path is None:
        torch.manual_seed(seed)
        return [("random", ecgssl.build_encoder({"name": "multibranch"}, n_leads))]
    saved = torch.load(path, map_location="cpu", weights_only=True)
    spec = {k: v for k, v in saved["spec"].items() if k != "n_leads"}
    pretrained = ecgssl.build_encoder(spec, n_leads)
    pretrained.load_state_dict(saved["state"])
    torch.manual_seed(seed)  # the same initial weights as the pretrained encoder
    return [("ssl", pretrained), ("random", ecgssl.build_encoder(spec, n_leads))]


def summarise(scores_dir: Path | None, tag: str) -> int:
    """The paired fold-9 gain and its CI per protocol over the saved scores of ``tag``."""
    if scores_dir is None or not tag:
        raise SystemExit("--summarise needs --scores-dir and --tag")
    groups: dict[str, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    y = None
    for path in sorted(scores_dir.glob(f"{tag}_*.npz")):
        f = np.load(path)
        if "ssl" in f.files and "random" in f.files:
            protocol = path.stem.split("_ls", 1)[1].split("_", 1)[1]  # head_ratio_epochs
            groups[protocol].append((f["ssl"], f["random"]))
            y = f["y_test"]
    if y is None:
        raise SystemExit(f"no paired scores of {tag!r} in {scores_dir}")
    for protocol, pairs in groups.items():
        gain, lo, hi = paired_gain_ci(y, pairs)
        ssl = np.mean([macro_auroc(y, s) for s, _ in pairs])
        rnd = np.mean([macro_auroc(y, r) for _, r in pairs])
        print(
            f"{tag} {protocol}: pretrained {ssl:.4f}, random init {rnd:.4f}, paired gain "
            f"{gain:+.4f} [{lo:+.4f}, {hi:+.4f}] over {len(pairs)} fine-tunes"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("encoders", type=Path, nargs="*", help="TAG_sSEED.pt files")
    ap.add_argument("--random-seeds", type=int, nargs="*", default=[],
                    help="also fine-tune untrained encoders of these seeds alone")  # fmt: skip
    ap.add_argument("--data", type=Path, default=SHARED / "ptbxl_super_100hz_dev.npz")
    ap.add_argument("--report", action="store_true", help="also score fold 9 (test)")
    ap.add_argument("--scores-dir", type=Path, default=None)
    ap.add_argument("--tag", default="")
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--label-seeds", type=int, default=1)
    ap.add_argument("--head-init", nargs="+", default=["random"], choices=HEAD_INITS)
    ap.add_argument("--encoder-lr-ratio", type=float, nargs="+", default=[0.1])
    ap.add_argument("--epochs", type=int, nargs="+", default=[40])
    ap.add_argument("--batchnorm", nargs="+", default=["train"], choices=["train", "frozen"],
                    help="BatchNorm while fine-tuning: trained (default) or frozen at the "
                         "encoder's statistics (FinetuneConfig.freeze_batchnorm)")  # fmt: skip
    ap.add_argument("--arms", nargs="+", default=["ssl", "random"], choices=["ssl", "random"],
                    help="which arms of a saved encoder to fine-tune (default both)")  # fmt: skip
    ap.add_argument("--random-protocol", nargs=2, type=float, default=None,
                    metavar=("RATIO", "EPOCHS"),
                    help="the random-init arm's own encoder lr ratio and epochs (chosen on fold "
                         "8 for it), instead of the grid's")  # fmt: skip
    ap.add_argument("--summarise", action="store_true",
                    help="only print the paired fold-9 gain and CI over every scores file of "
                         "--tag in --scores-dir (runs split over several calls)")  # fmt: skip
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.summarise:
        return summarise(a.scores_dir, a.tag)
    ds = load_ptbxl(a.data, report=a.report)
    train, val, test = ds.subset("train"), ds.subset("val"), ds.subset("test")
    y_tr, y_va, y_te = (np.asarray(p.labels) for p in (train, val, test))
    jobs: list[tuple[Path | None, int]] = []
    for path in a.encoders:
        m = re.search(r"_s(\d+)\.pt$", path.name)
        if m is None:
            raise SystemExit(f"{path}: expected a name TAG_sSEED.pt from ptbxl_dev.py")
        jobs.append((path, int(m.group(1))))
    jobs += [(None, s) for s in a.random_seeds]
    grid = list(itertools.product(a.head_init, a.encoder_lr_ratio, a.epochs, a.batchnorm))
    paired: dict[tuple, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    for path, seed in jobs:
        arms = [(n, e) for n, e in _arms(path, seed, ds.n_leads) if path is None or n in a.arms]
        for ls in range(a.label_seeds):
            # label sample 0 is the one ptbxl_dev.py --finetune uses for this seed
            idx = label_fraction_indices(y_tr, a.fraction, seed + 100 * ls, train.patient_ids)
            for head, ratio, epochs, bn in grid:
                row = {"tag": a.tag, "encoder": path.name if path else "random", "seed": seed,
                       "label_seed": ls, "fraction": a.fraction, "head_init": head,
                       "encoder_lr_ratio": ratio, "epochs": epochs, "batchnorm": bn}  # fmt: skip
                scores = {}
                for arm, enc in arms:
                    t0 = time.perf_counter()
                    own = arm == "random" and a.random_protocol is not None
                    h, r, e, b = (
                        ("random", a.random_protocol[0], int(a.random_protocol[1]), "train")
                        if own else (head, ratio, epochs, bn)
                    )  # fmt: skip
                    row[f"{arm}/protocol"] = [h, r, e, b]
                    cfg = FinetuneConfig(seed=seed, head_init=h, encoder_lr_ratio=r, epochs=e,
                                         freeze_batchnorm=b == "frozen")  # fmt: skip
                    ft = finetune(enc, (train.signals[idx], y_tr[idx]), (val.signals, y_va),
                                  config=cfg, device="cpu")  # fmt: skip
                    row[f"{arm}/val"] = ft.val_macro_auroc
                    row[f"{arm}/best_epoch"] = ft.best_epoch
                    row[f"{arm}/seconds"] = round(time.perf_counter() - t0, 1)
                    if a.report:
                        scores[arm] = ft.scores(test.signals, 256)
                        row[f"{arm}/test"] = macro_auroc(y_te, scores[arm])
                if len(arms) == 2:
                    row["gain/val"] = row["ssl/val"] - row["random/val"]
                    if a.report:
                        row["gain/test"] = row["ssl/test"] - row["random/test"]
                        paired[(head, ratio, epochs, bn)].append((scores["ssl"], scores["random"]))
                if a.report and a.scores_dir is not None:
                    a.scores_dir.mkdir(parents=True, exist_ok=True)
                    name = f"{a.tag or 'finetune'}_{row['encoder'].removesuffix('.pt')}_s{seed}"
                    suffix = "_bnfrozen" if bn == "frozen" else ""
                    np.savez(a.scores_dir / f"{name}_ls{ls}_{head}_{ratio:g}_{epochs}{suffix}.npz",
                             y_test=y_te, **scores)  # fmt: skip
                print(json.dumps(row), flush=True)
                if a.out:
                    with open(a.out, "a") as f:
                        f.write(json.dumps(row) + "\n")
    for (head, ratio, epochs, bn), pairs in paired.items():  # report mode, both arms
        gain, lo, hi = paired_gain_ci(y_te, pairs)
        print(f"fold 9, head_init={head}, encoder lr ratio {ratio:g}, {epochs} epochs, "
              f"BatchNorm {bn}"
              f"{'' if a.random_protocol is None else f' (random init: {a.random_protocol})'}: "
              f"paired gain {gain:+.4f} [{lo:+.4f}, {hi:+.4f}] over {len(pairs)} fine-tunes")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
