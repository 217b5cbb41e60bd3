"""Real-data development protocol on the PTB-XL dev archive: pretrain, probe, pair with random init.

Protocol (issue 13): pretrain on PTB-XL strat folds 1-7 (labels unused; optionally plus the
unlabeled HCE recordings), labeled pool = folds 1-7, fold 8 for every choice, fold 9 as the
test fold (``--report`` only). For every seed the SAME initial weights are also evaluated
untrained ("random init"), so each row is a paired difference.

Dev mode (default) never touches fold 9: the probe's C is chosen on fold 8 and the score is
fold 8's (optimistic for both arms alike, which is what a paired ablation needs). Report mode
chooses C on fold 8 and scores fold 9 once.

Each linear-probe cell averages several label-fraction samples (``--label-seeds``), because a
10 % sample of 1,282 records is small and its draw moves AUROC by more than most knobs do.

Example (one ablation row, appended to a JSONL file)::

    python benchmarks/ptbxl_dev.py --method bell --steps 600 --batch-size 128 \\
        --set base_momentum=0.99 --tag momentum-0.99 --out benchmarks/results/ptbxl-dev-ablations/runs.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import ecgssl
from ecgssl.augment.base import build_augmentation
from ecgssl.augment.policies import ssl_policy
from ecgssl.data.base import ECGDataset
from ecgssl.data.sampling import label_fraction_indices
from ecgssl.evaluation.embed import embed
from ecgssl.evaluation.finetune import FinetuneConfig
from ecgssl.evaluation.linear import LinearProbe
from ecgssl.evaluation.metrics import macro_auroc
from ecgssl.training.checkpoint import load_checkpoint
from ecgssl.training.compat import load_encoder

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def parse_value(v: str) -> Any:
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    if v.lower() == "none":
        return None
    return v


def parse_sets(items: list[str]) -> dict[str, Any]:
    out = {}
    for it in items:
        k, _, v = it.partition("=")
        out[k.strip()] = parse_value(v.strip())
    return out


def load_ptbxl(path: Path, report: bool, leads: list[str] | None = None) -> ECGDataset:
    """Folds 1-7 train, 8 val, and 9 test (report) or a second copy of fold 8 (dev);
    ``leads``: only these leads, in this order (e.g. the 8 independent ones)."""
    d = np.load(path)
    x, y, fold = d["X"].astype(np.float32), d["y"], d["strat_fold"]
    names = [str(s) for s in d["leads"]]
    if leads:
        unknown = [lead for lead in leads if lead not in names]
        if unknown:
            raise SystemExit(f"--leads: {unknown} not among the archive's leads {names}")
        x, names = x[:, [names.index(lead) for lead in leads]], list(leads)
    pid = d["patient_id"].astype(str)
    ids = d["ecg_id"].astype(str)
    split = np.where(fold <= 7, "train", np.where(fold == 8, "val", "test"))
    keep = fold <= 8 if not report else fold <= 9
    x, y, split, pid, ids = x[keep], y[keep], split[keep], pid[keep], ids[keep]
    if not report:  # the "test" split is fold 8 again: fold 9 is never read
        v = split == "val"
        x = np.concatenate([x, x[v]])
        y = np.concatenate([y, y[v]])
        pid = np.concatenate([pid, pid[v]])
        ids = np.concatenate([ids, np.char.add(ids[v], "_dev")])
        split = np.concatenate([split, np.full(int(v.sum()), "test")])
    return ecgssl.load_dataset(
        "arrays", signals=x, fs=float(d["fs"]), leads=names, labels=y,
        classes=[str(c) for c in d["classes"]], split=split, record_ids=ids, patient_ids=pid,
        name="ptbxl_dev",
    )  # fmt: skip


def pretrain_set(ds: ECGDataset, hce: bool) -> ECGDataset:
    train = ds.subset("train")
    if not hce:
        return train
    # The library's HCE loader, preprocessed like the archive (band-pass 0.5-40 Hz, z-score).
    extra = ecgssl.load_dataset("hce", root=SHARED / "hce", split_method="all_train")
    x = np.concatenate([train.signals, extra.signals])
    return ecgssl.load_dataset(
        "arrays", signals=x, fs=ds.fs, leads=list(ds.leads), split=["train"] * len(x),
        name="ptbxl_train+hce",
    )  # fmt: skip


def probe(enc: Any, ds: ECGDataset, fractions: list[float], label_seeds: int,
          finetune: bool, seed: int) -> dict[str, float]:  # fmt: skip
    """Linear probe (C on fold 8) averaged over ``label_seeds`` label samples per fraction;
    every record is embedded once."""
    parts = {s: ds.subset(s) for s in ("train", "val", "test")}
    feats = {s: embed(enc, parts[s].signals, device="cpu") for s in parts}
    y = {s: np.asarray(parts[s].labels) for s in parts}
    out: dict[str, Any] = {"scores": {}}
    for f in fractions:
        val, test = [], []
        for s in range(label_seeds if f < 1 else 1):
            idx = label_fraction_indices(y["train"], f, s, parts["train"].patient_ids)
            pr = LinearProbe().fit(feats["train"][idx], y["train"][idx], feats["val"], y["val"])
            val.append(pr.val_macro_auroc)
            scores = pr.decision_function(feats["test"])
            test.append(macro_auroc(y["test"], scores))
            out["scores"][f"linear@{f:g}/label_seed{s}"] = scores
        out[f"linear_val@{f:g}"] = float(np.mean(val))
        out[f"linear_test@{f:g}"] = float(np.mean(test))
    if finetune:
        from ecgssl.evaluation.finetune import finetune as run_finetune

        idx = label_fraction_indices(y["train"], 0.1, seed, parts["train"].patient_ids)
        ft = run_finetune(
            enc, (parts["train"].signals[idx], y["train"][idx]),
            (parts["val"].signals, y["val"]), multilabel=True,
            config=FinetuneConfig(seed=seed), device="cpu",
        )  # fmt: skip
        scores = ft.scores(parts["test"].signals, 256)
        out["scores"]["finetune@0.1"] = scores
        out["finetune_val@0.1"] = ft.val_macro_auroc
        out["finetune_test@0.1"] = macro_auroc(y["test"], scores)
    out["scores"]["y_test"] = y["test"]
    return out


def _read_cache(path: Path | None) -> dict[str, Any]:
    if path is None or not path.exists():
        return {}
    return json.loads(path.read_text())


def _write_cache(path: Path | None, cache: dict[str, Any]) -> None:
    if path is None:
        return
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(cache))
    tmp.replace(path)  # atomic: two concurrent runs never read a half-written file


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--method", default="bell")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup-steps", type=int, default=None)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--window", type=float, default=2.5)
    ap.add_argument("--strength", default="default")
    ap.add_argument(
        "--aug", default=None, help="JSON list of augmentation specs (replaces the policy)"
    )
    ap.add_argument("--encoder", action="append", default=[], help="encoder option key=value")
    ap.add_argument("--set", action="append", default=[], help="method option key=value")
    ap.add_argument("--hce", action="store_true", help="add the HCE recordings to pretraining")
    ap.add_argument("--leads", default=None,
                    help="comma-separated leads to keep, e.g. II,III,V1,V2,V3,V4,V5,V6")  # fmt: skip
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--label-seeds", type=int, default=5)
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.1, 1.0])
    ap.add_argument("--finetune", action="store_true")
    ap.add_argument("--report", action="store_true", help="score fold 9 (test) once")
    ap.add_argument("--data", type=Path, default=SHARED / "ptbxl_super_100hz_dev.npz")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--save-dir", type=Path, default=None,
                    help="save each pretrained encoder's weights here (tag_sSEED.pt)")  # fmt: skip
    ap.add_argument("--random-cache", type=Path, default=None,
                    help="JSON file caching the random-init scores across runs")  # fmt: skip
    ap.add_argument("--curve-every", type=int, default=None,
                    help="also probe the encoder every N steps (checkpoints in a temp folder)")  # fmt: skip
    ap.add_argument("--scores-dir", type=Path, default=None,
                    help="save both arms' per-record test scores here (report mode)")  # fmt: skip
    ap.add_argument("--probe-target", action="store_true",
                    help="also probe the EMA target encoder (BYOL-type methods; dev mode)")  # fmt: skip
    ap.add_argument("--tag", default="")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    leads = a.leads.split(",") if a.leads else None
    if leads and a.hce:
        raise SystemExit("--leads with --hce: the HCE recordings are read with all 12 leads")
    ds = load_ptbxl(a.data, a.report, leads)
    pre = pretrain_set(ds, a.hce)
    n_pre = len(pre)
    steps_per_epoch = n_pre // a.batch_size
    epochs = max(1, math.ceil(a.steps / steps_per_epoch))
    hp = parse_sets(a.set)
    enc_opts = parse_sets(a.encoder)
    warm = a.warmup_steps if a.warmup_steps is not None else max(1, a.steps // 20)
    views = build_augmentation(json.loads(a.aug)) if a.aug else ssl_policy(a.window, a.strength)
    for seed in a.seeds:
        t0 = time.perf_counter()
        encoder = {"name": "multibranch", **enc_opts} if enc_opts else None
        tmp = tempfile.TemporaryDirectory() if a.curve_every else None
        ckpt = (
            {"checkpoint_dir": tmp.name, "checkpoint_every_steps": a.curve_every,
             "checkpoint_every": 10**6, "keep_last": 10**6} if tmp else {}
        )  # fmt: skip
        result = ecgssl.pretrain(
            a.method, pre, encoder, steps=a.steps, batch_size=a.batch_size, lr=a.lr,
            weight_decay=a.weight_decay, warmup_steps=warm, seed=seed, recipe=None,
            augmentations=views, device="cpu", progress=False,
            health_every=max(1, epochs // 4), **ckpt, **hp,
        )  # fmt: skip
        secs = time.perf_counter() - t0
        if a.save_dir is not None:
            a.save_dir.mkdir(parents=True, exist_ok=True)
            torch.save({"spec": result.encoder.config, "state": result.encoder.state_dict()},
                       a.save_dir / f"{a.tag or a.method}_s{seed}.pt")  # fmt: skip
        torch.manual_seed(seed)  # the same initial weights as the pretrained encoder
        spec = encoder or type(result.method).default_encoder(**hp)
        rand = ecgssl.build_encoder(spec, ds.n_leads).eval()
        ssl_m = probe(result.encoder, ds, a.fractions, a.label_seeds, a.finetune, seed)
        ssl_scores = ssl_m.pop("scores")
        key = json.dumps([seed, rand.config, a.fractions, a.label_seeds, a.finetune, a.report])
        cache = _read_cache(a.random_cache)
        if key in cache and not a.scores_dir:  # random init does not depend on the SSL
            rnd_m = cache[key]  # settings: evaluate it once
        else:
            rnd_m = probe(rand, ds, a.fractions, a.label_seeds, a.finetune, seed)
            rnd_scores = rnd_m.pop("scores")
            _write_cache(a.random_cache, {**_read_cache(a.random_cache), key: rnd_m})
        if a.scores_dir is not None:  # per-record test scores for the paired bootstrap
            a.scores_dir.mkdir(parents=True, exist_ok=True)
            np.savez(a.scores_dir / f"{a.tag or a.method}_s{seed}.npz",
                     **{f"ssl/{k}": v for k, v in ssl_scores.items()},
                     **{f"random/{k}": v for k, v in rnd_scores.items()})  # fmt: skip
        target = {}
        if a.probe_target:  # the EMA copy, as some mean-teacher methods evaluate
            t = getattr(result.method, "target_encoder", None)
            if t is None:
                raise SystemExit(f"--probe-target: {a.method} has no EMA target encoder")
            target = probe(t.eval(), ds, a.fractions, a.label_seeds, False, seed)
            target.pop("scores")
        curve = {}
        if tmp is not None:
            for path in sorted(Path(tmp.name).glob("*.pt")):
                step = int(load_checkpoint(path)["step"])
                m = probe(load_encoder(path), ds, [0.1], a.label_seeds, False, seed)
                curve[step] = m["linear_val@0.1"]
            tmp.cleanup()
        health = {}  # the last epoch that logged representation-health statistics
        for h in result.history:
            health.update({k: v for k, v in h.items() if k.startswith("health/")})
        row = {
            "tag": a.tag, "method": a.method, "seed": seed, "mode": "report" if a.report else "dev",
            "steps": result.history[-1]["step"], "epochs": epochs, "batch_size": a.batch_size,
            "lr": a.lr, "weight_decay": a.weight_decay, "window": a.window, "strength": a.strength, "aug": a.aug, "hce": a.hce,
            "leads": list(ds.leads),
            "n_pretrain": n_pre, "method_options": hp, "encoder_options": enc_opts,
            "pretrain_seconds": round(secs, 1), "final_loss": result.final_loss,
            **{f"ssl/{k}": v for k, v in ssl_m.items()},
            **{f"random/{k}": v for k, v in rnd_m.items()},
            **{f"gain/{k}": ssl_m[k] - rnd_m[k] for k in ssl_m},
            **{f"target/{k}": v for k, v in target.items()},
            **health,
            **({"curve/linear_val@0.1": curve} if curve else {}),
        }  # fmt: skip
        if not a.report:
            row = {k: v for k, v in row.items() if "_test" not in k}  # dev: fold 8 only
        print(json.dumps(row), flush=True)
        if a.out:
            a.out.parent.mkdir(parents=True, exist_ok=True)
            with open(a.out, "a") as f:
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
