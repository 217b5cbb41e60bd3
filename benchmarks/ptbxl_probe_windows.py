"""Whole-record vs windowed linear probes on the PTB-XL dev archive, fold 8 only.

The PTB-XL benchmark (Strodthoff et al., 2021) scores a record from its 2.5 s windows (1.25 s
stride): the probe is trained on the training records' windows, each with its record's labels,
and a record's score is the maximum (or mean) of its windows' scores. ecgssl's pretraining
crops are 2.5 s too, so this asks whether probing at the crop length helps a pretrained
encoder more than its untrained twin. For every saved encoder (``ptbxl_dev.py --save-dir``,
``TAG_sSEED.pt``) and the same initial weights untrained, it prints fold 8's macro AUROC,
mean over ``--label-seeds`` label samples, for four read-outs: the whole record (what
``ptbxl_dev.py`` reports, also per class), windows with max and mean aggregation, and a probe
on the mean of the windows' embeddings. Fold 9 is never read.

Example::

    python benchmarks/ptbxl_probe_windows.py /tmp/encoders_vc/b64s1000-vc-4-4-rerun_s0.pt
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from ecgssl.data.sampling import label_fraction_indices
from ecgssl.evaluation.embed import embed
from ecgssl.evaluation.linear import LinearProbe
from ecgssl.evaluation.metrics import macro_auroc
from ecgssl.evaluation.protocol import _aggregate, _cut_windows

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ptbxl_dev import SHARED, load_ptbxl
from ptbxl_finetune import _arms

READOUTS = ("whole", "windows_max", "windows_mean", "mean_embedding")


def readouts(enc: torch.nn.Module, parts: dict, y: dict, fraction: float, label_seeds: int,
             win: int, stride: int, classes: list[str]) -> dict[str, Any]:  # fmt: skip
    """Fold-8 macro AUROC of each read-out, mean over the label samples."""
    whole = {s: embed(enc, parts[s].signals, device="cpu") for s in parts}
    wins, n_win = {}, 1
    for s in parts:
        x, n_win = _cut_windows(parts[s].signals, win, stride)
        wins[s] = embed(enc, x, device="cpu")
    pooled = {s: wins[s].reshape(-1, n_win, wins[s].shape[1]).mean(axis=1) for s in parts}
    out: dict[str, list[float]] = {k: [] for k in READOUTS}
    per_class: list[list[float]] = []
    for ls in range(label_seeds if fraction < 1 else 1):
        idx = label_fraction_indices(y["train"], fraction, ls, parts["train"].patient_ids)
        for name, z in (("whole", whole), ("mean_embedding", pooled)):
            pr = LinearProbe().fit(z["train"][idx], y["train"][idx], z["val"], y["val"])
            sc = pr.decision_function(z["val"])
            out[name].append(macro_auroc(y["val"], sc))
            if name == "whole":
                per_class.append([roc_auc_score(y["val"][:, c], sc[:, c])
                                  for c in range(y["val"].shape[1])])  # fmt: skip
        rows = (np.asarray(idx)[:, None] * n_win + np.arange(n_win)).ravel()
        pr = LinearProbe().fit(wins["train"][rows], np.repeat(y["train"][idx], n_win, axis=0),
                               wins["val"], np.repeat(y["val"], n_win, axis=0))  # fmt: skip
        scores = pr.decision_function(wins["val"])
        for how in ("max", "mean"):
            out[f"windows_{how}"].append(macro_auroc(y["val"], _aggregate(scores, n_win, how)))
    res: dict[str, Any] = {k: float(np.mean(v)) for k, v in out.items()}
    res["whole_per_class"] = dict(zip(classes, np.mean(per_class, axis=0).round(4).tolist()))
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("encoders", type=Path, nargs="+", help="TAG_sSEED.pt files")
    ap.add_argument("--data", type=Path, default=SHARED / "ptbxl_super_100hz_dev.npz")
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--label-seeds", type=int, default=5)
    ap.add_argument("--window", type=float, default=2.5, help="seconds")
    ap.add_argument("--stride", type=float, default=1.25, help="seconds")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None, help="append one JSON line per arm")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    ds = load_ptbxl(a.data, report=False)
    parts = {s: ds.subset(s) for s in ("train", "val")}
    y = {s: np.asarray(parts[s].labels) for s in parts}
    win, stride = round(a.window * ds.fs), round(a.stride * ds.fs)
    gains: dict[str, list[float]] = {k: [] for k in READOUTS}
    gains_per_class: list[dict[str, float]] = []
    for path in a.encoders:
        m = re.search(r"_s(\d+)\.pt$", path.name)
        if m is None:
            raise SystemExit(f"{path}: expected a name TAG_sSEED.pt from ptbxl_dev.py --save-dir")
        seed = int(m.group(1))
        res = {}
        for arm, enc in _arms(path, seed, ds.n_leads):
            res[arm] = readouts(enc.eval(), parts, y, a.fraction, a.label_seeds, win, stride,
                                list(ds.classes))  # fmt: skip
            row = {"encoder": path.name, "seed": seed, "arm": arm, "fraction": a.fraction,
                   "window_s": a.window, "stride_s": a.stride, **res[arm]}  # fmt: skip
            print(json.dumps(row), flush=True)
            if a.out:
                with open(a.out, "a") as f:
                    f.write(json.dumps(row) + "\n")
        for k in READOUTS:
            gains[k].append(res["ssl"][k] - res["random"][k])
        gains_per_class.append({c: res["ssl"]["whole_per_class"][c]
                                - res["random"]["whole_per_class"][c] for c in ds.classes})  # fmt: skip
    classes = list(ds.classes)
    per_class = np.mean([[d[c] for c in classes] for d in gains_per_class], axis=0)
    print("whole record, gain per class: "
          + " ".join(f"{c} {g:+.4f}" for c, g in zip(classes, per_class)))  # fmt: skip
    for k in READOUTS:
        print(f"{k:>15}: gain over random init " + " ".join(f"{g:+.4f}" for g in gains[k])
              + f"  mean {np.mean(gains[k]):+.4f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
