"""A tiny pretraining run, launched by ``test_distributed.py`` with or without torchrun.

Runs are BatchNorm-free (every BatchNorm of encoder and heads replaced by an identity): on CPU
PyTorch's SyncBatchNorm is unavailable, and plain BatchNorm normalises with per-rank batch
statistics, which a one-process run over the global batch does not reproduce. With
``--views fixed`` the two views are deterministic (a fixed low-pass and a fixed gain) because
each rank draws its own augmentations for its shard; ``--views random`` is the usual random
pipeline (used for resuming, where each rank's augmentation stream must continue exactly).

Each rank writes ``{out}-{name}-{views}-rank{r}.pt``: the method's state, the loss history and
whether the EMA targets agree across ranks. ``--all-methods`` also fits every registered method
with its BatchNorms kept for one short epoch (DDP must accept each method's parameters, and
ranks must end with identical weights) and writes ``{out}-all-rank{r}.pt``.
"""

from __future__ import annotations

import argparse
import os

import torch
import torch.distributed as dist
from torch import nn

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

from ecgssl.augment import TwoViews  # noqa: E402
from ecgssl.registry import ENCODERS, METHODS  # noqa: E402
from ecgssl.training import Pretrainer  # noqa: E402
from ecgssl.training.distributed import rank, replicas_agree  # noqa: E402

FS = 50.0
# 32 records, global batch 8: 4 steps per epoch, 2 epochs; checkpoints every 3 steps.
SETTINGS = {"epochs": 2, "batch_size": 8, "optimizer": "sgd", "lr": 0.05, "momentum": 0.9,
            "warmup_epochs": 0.5, "checkpoint_every_steps": 3, "keep_last": 10,
            "progress": False, "device": "cpu"}  # fmt: skip
VIEWS = {
    "fixed": lambda: TwoViews({"name": "lowpass", "high_hz": (8.0, 8.0)},
                              {"name": "amplitude_scale", "scale": (0.7, 0.7)}),
    "random": lambda: TwoViews([{"name": "random_crop", "seconds": 1.5}, "gaussian_noise"]),
}  # fmt: skip


def signals() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    t = torch.arange(100) / FS
    return torch.sin(2 * torch.pi * 1.2 * t) + 0.3 * torch.randn(32, 3, 100, generator=g)


def strip_batchnorm(module: nn.Module) -> None:
    """Replace every BatchNorm below ``module`` by an identity, in place."""
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(module, name, nn.Identity())
        else:
            strip_batchnorm(child)


def build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    # The per-lead "loop" layout: oneDNN picks its grouped-convolution algorithm by batch size,
    # so the channels-last layout adds ~1e-5 of summation-order noise between a batch of 8 and
    # two of 4, which would blur the 1e-5 comparison of the distributed arithmetic itself.
    # The layouts' equivalence is tested in tests/encoders/test_layouts.py.
    enc = ENCODERS.build("multibranch", n_leads=3, per_lead_dim=8, width=4, impl="loop")
    heads = {"proj_hidden_dim": 16, "proj_dim": 8}
    if name == "byol":
        heads["pred_hidden_dim"] = 16
    method = METHODS.build(name, encoder=enc, **heads)
    strip_batchnorm(method)
    return method


def all_methods() -> dict[str, dict[str, object]]:
    """Every registered method, BatchNorm kept, 2 steps of a global batch of 8."""
    import ecgssl

    out: dict[str, dict[str, object]] = {}
    for name in ecgssl.list_methods():
        torch.manual_seed(0)
        enc = ENCODERS.build("multibranch", n_leads=3, per_lead_dim=8, width=4)
        method = METHODS.build(name, encoder=enc)
        settings = {**SETTINGS, "epochs": 1, "checkpoint_every_steps": None, "health_every": 0}
        trainer = Pretrainer(method, VIEWS["random"](), **settings)
        result = trainer.fit(signals()[:16], fs=FS)
        out[name] = {"loss": result.final_loss, "agree": replicas_agree(method),
                     "state": method.state_dict()}  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True, help="comma-separated method:views, e.g. simclr:fixed")
    ap.add_argument("--out", required=True)
    ap.add_argument("--ckpt-dir", default=None)
    ap.add_argument("--resume", default=None)
    ap.add_argument("--own-group", action="store_true", help="initialise the group here")
    ap.add_argument("--all-methods", action="store_true", help="also fit every method briefly")
    args = ap.parse_args()
    if args.own_group and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        dist.init_process_group("gloo")  # the Pretrainer must use it and leave it alone
    for run in args.runs.split(","):
        name, views = run.split(":")
        method = build(name)
        ckpt = {}
        if args.ckpt_dir:
            ckpt["checkpoint_dir"] = os.path.join(args.ckpt_dir, f"{name}-{views}")
        if args.resume:
            ckpt["resume"] = args.resume
        trainer = Pretrainer(method, VIEWS[views](), **SETTINGS, **ckpt)
        result = trainer.fit(signals(), fs=FS, leads=["I", "II", "V1"])
        out = {
            "state": result.method.state_dict(),
            "losses": [h["loss"] for h in result.history],
            "targets_agree": replicas_agree(result.method.targets),
            "group_alive": dist.is_initialized(),
            "resumed_from": str(result.resumed_from),
        }
        rk = int(os.environ.get("RANK", "0"))  # the group may be gone (the Pretrainer owned it)
        assert rk == rank() or not dist.is_initialized()
        torch.save(out, f"{args.out}-{name}-{views}-rank{rk}.pt")
    if args.all_methods:
        torch.save(all_methods(), f"{args.out}-all-rank{os.environ.get('RANK', '0')}.pt")
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
