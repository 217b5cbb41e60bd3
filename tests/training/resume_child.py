"""A tiny, deterministic pretraining run that can SIGKILL itself at a chosen point.

Run by ``test_kill_resume.py`` in a subprocess. The kill points are counted, not timed, so
the test is reproducible on a loaded machine:

- ``--kill-at-call N``: SIGKILL inside this process's N-th training step (mid-epoch);
- ``--kill-before-rename N``: SIGKILL in this process's N-th checkpoint save, after the
  temporary file is written and fsynced but before it is renamed into place;
- ``--kill-mid-write N``: SIGKILL in this process's N-th save after writing only half of the
  temporary file.

Every run uses ``resume="auto"`` on ``--ckpt-dir`` (when given), exactly like a user who simply
restarts the same command, and writes the final weights and history to ``--out``.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
from typing import Any

import torch

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

from ecgssl.augment import Compose, RandomApply, TwoViews  # noqa: E402
from ecgssl.registry import AUGMENTATIONS, ENCODERS, METHODS  # noqa: E402
from ecgssl.training import Pretrainer  # noqa: E402

FS = 50.0
SETTINGS = {"epochs": 3, "batch_size": 4, "checkpoint_every": 1, "checkpoint_every_steps": 4,
            "keep_last": 3, "lr": 3e-3}  # fmt: skip


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def signals() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    t = torch.arange(100) / FS
    return torch.sin(2 * torch.pi * 1.2 * t) + 0.3 * torch.randn(24, 3, 100, generator=g)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt-dir", default=None)
    ap.add_argument("--out", required=True)
    ap.add_argument("--kill-at-call", type=int, default=None)
    ap.add_argument("--kill-before-rename", type=int, default=None)
    ap.add_argument("--kill-mid-write", type=int, default=None)
    args = ap.parse_args()

    torch.manual_seed(0)
    enc = ENCODERS.build("multibranch", n_leads=3, per_lead_dim=16, width=4)
    method = METHODS.build("bell", encoder=enc)
    views = TwoViews(Compose([
        AUGMENTATIONS.build({"name": "random_crop", "seconds": 1.5}),
        RandomApply(AUGMENTATIONS.build("time_mask"), p=0.5),
        AUGMENTATIONS.build("gaussian_noise"),
    ]))  # fmt: skip

    if args.kill_at_call is not None:
        inner, calls = method.training_step, [0]

        def step(v1: torch.Tensor, v2: torch.Tensor) -> dict[str, torch.Tensor]:
            calls[0] += 1
            if calls[0] == args.kill_at_call:
                _die()
            return inner(v1, v2)

        method.training_step = step  # type: ignore[method-assign]

    saves = [0]
    if args.kill_before_rename is not None:
        real_replace = os.replace

        def replace(src: Any, dst: Any) -> None:
            saves[0] += 1
            if saves[0] == args.kill_before_rename:
                _die()
            real_replace(src, dst)

        os.replace = replace  # type: ignore[assignment]
    if args.kill_mid_write is not None:
        real_save = torch.save

        def save(obj: Any, f: Any, *a: Any, **kw: Any) -> None:
            saves[0] += 1
            if saves[0] == args.kill_mid_write:
                buf = io.BytesIO()
                real_save(obj, buf)
                f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
                f.flush()
                _die()
            real_save(obj, f, *a, **kw)

        torch.save = save  # type: ignore[assignment]

    ckpt = {"checkpoint_dir": args.ckpt_dir, "resume": "auto"} if args.ckpt_dir else {}
    trainer = Pretrainer(method, views, progress=False, device="cpu", **SETTINGS, **ckpt)
    result = trainer.fit(signals(), fs=FS, leads=["I", "II", "V1"])
    out = {
        "state": result.method.state_dict(),
        "losses": [h["loss"] for h in result.history],
        "resumed_from": str(result.resumed_from),
    }
    with open(args.out, "wb") as f:
        (torch.save if args.kill_mid_write is None else real_save)(out, f)


if __name__ == "__main__":
    main()
