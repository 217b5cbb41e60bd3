"""Distributed pretraining, proven with ``torchrun --nproc-per-node 2`` on CPU (Gloo).

1. Two processes with a global batch of 8 (4 records per rank) train SimCLR (negatives
   gathered across ranks), Barlow Twins (cross-correlation of the gathered batch) and BYOL
   (EMA targets) to the same weights as one process with a
   batch of 8, and both ranks hold identical weights and targets.
2. Every registered method, BatchNorms kept, trains under DDP (no unused parameters) and the
   ranks end with identical weights, EMA targets and BatchNorm statistics included.
3. A two-process BYOL run resumed from a mid-epoch checkpoint of another two-process run
   (random augmentations: every rank's stream must continue) ends with the same weights.

Tolerance of the comparison with one process: ``atol=1e-5``. The runs compute the same
function over the same records, but in a different floating-point order: each rank sums its
half of the batch's gradient and Gloo adds the two halves, where one process sums all at
once; float32 rounding (eps 1.2e-7 on weights of order 1) differs, and the observed gap after
8 SGD steps is ~1e-7. 1e-5 leaves two orders of magnitude of headroom, while a real error
(negatives not gathered, a wrong shard, a per-rank instead of a global loss) moves weights by
~lr * gradient, about 1e-3 to 1e-2 here. The runs are BatchNorm-free (see
``distributed_child.py``): PyTorch's SyncBatchNorm has no CPU kernel, and per-rank batch
statistics are not the global batch's. SGD, not Adam: Adam divides by the root of the squared
gradient, which turns rounding noise in near-zero gradient components into lr-sized steps.
Replicas of one two-process run (and a resumed run against an uninterrupted one) are compared
exactly.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

CHILD = Path(__file__).with_name("distributed_child.py")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return {**env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _torchrun(*args: str) -> list[str]:
    exe = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    launcher = [exe] if exe else [sys.executable, "-m", "torch.distributed.run"]
    return [*launcher, "--nnodes", "1", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
            "--master-port", str(_free_port()), str(CHILD), *args]  # fmt: skip


def _finish(proc: subprocess.Popen[str]) -> None:
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, (out[-2000:], err[-3000:])


def _load(path: Path) -> dict:
    return torch.load(path, weights_only=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One torchrun launch (simclr and byol with fixed views, byol with random views and
    checkpoints) and, concurrently, the one-process references."""
    tmp = tmp_path_factory.mktemp("ddp")
    kw = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "env": _env()}
    two = subprocess.Popen(
        _torchrun("--runs", "simclr:fixed,barlow_twins:fixed,byol:fixed,byol:random", "--out", str(tmp / "two"),
                  "--ckpt-dir", str(tmp / "ckpt"), "--own-group", "--all-methods"),
        **kw,
    )  # fmt: skip
    one = subprocess.Popen(
        [sys.executable, str(CHILD), "--runs", "simclr:fixed,barlow_twins:fixed,byol:fixed", "--out",
         str(tmp / "one")],
        **kw,
    )  # fmt: skip
    _finish(one)
    _finish(two)
    return tmp


@pytest.mark.parametrize("name", ["simclr-fixed", "barlow_twins-fixed", "byol-fixed"])
def test_two_processes_match_one_process_with_the_same_global_batch(runs, name):
    one = _load(runs / f"one-{name}-rank0.pt")
    ranks = [_load(runs / f"two-{name}-rank{r}.pt") for r in (0, 1)]
    assert ranks[0]["group_alive"]  # a group the caller initialised is left alone
    for rank in ranks:
        assert rank["targets_agree"]  # replicas_agree across the live group
        assert rank["state"].keys() == one["state"].keys()
        for key, value in one["state"].items():
            torch.testing.assert_close(rank["state"][key], value, atol=1e-5, rtol=0, msg=key)
        # the logged loss is the global batch's (mean over ranks of the gathered loss)
        torch.testing.assert_close(
            torch.tensor(rank["losses"]), torch.tensor(one["losses"]), atol=1e-5, rtol=0
        )
    for key, value in ranks[0]["state"].items():  # both ranks: bit-identical, targets included
        assert torch.equal(ranks[1]["state"][key], value), key
    if name.startswith("byol"):
        assert any(k.startswith("targets.") for k in ranks[0]["state"])


def test_every_method_trains_under_ddp_with_identical_replicas(runs):
    ranks = [_load(runs / f"two-all-rank{r}.pt") for r in (0, 1)]
    assert set(ranks[0]) >= {"bell", "byol", "simclr", "moco_v3", "clocs", "vicreg"}
    for name, res in ranks[0].items():
        assert res["agree"] and ranks[1][name]["agree"], name
        assert res["loss"] == ranks[1][name]["loss"] and torch.isfinite(torch.tensor(res["loss"]))
        for key, value in res["state"].items():
            assert torch.equal(ranks[1][name]["state"][key], value), (name, key)


def test_resumed_two_process_run_continues_exactly(runs):
    ckpt_dir = runs / "ckpt" / "byol-random"
    mid = ckpt_dir / "ckpt-epoch0000-step00000003.pt"  # mid-epoch: step 3 of 4
    ck = torch.load(mid, weights_only=False)
    assert ck["world_size"] == 2 and len(ck["rng"]["ranks"]) == 2
    assert not torch.equal(ck["rng"]["ranks"][0]["augment"], ck["rng"]["ranks"][1]["augment"])
    assert sorted(p.name for p in (runs / "ckpt" / "byol-random").iterdir()) == [
        "ckpt-epoch0000-step00000003.pt", "ckpt-epoch0001-step00000006.pt",
        "ckpt-epoch0002-step00000008.pt",
    ]  # fmt: skip  # only rank 0 wrote: one file per save, no temporary leftovers

    # A folder holding only the mid-epoch checkpoint, resumed with resume="auto": rank 0 picks
    # it and broadcasts the choice. This launch lets the Pretrainer detect torchrun and
    # initialise (and destroy) the process group itself.
    resumed_dir = runs / "ckpt-resumed" / "byol-random"
    resumed_dir.mkdir(parents=True)
    shutil.copy(mid, resumed_dir / mid.name)
    proc = subprocess.Popen(
        _torchrun("--runs", "byol:random", "--out", str(runs / "resumed"), "--ckpt-dir",
                  str(runs / "ckpt-resumed"), "--resume", "auto"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    _finish(proc)
    for r in (0, 1):
        resumed = _load(runs / f"resumed-byol-random-rank{r}.pt")
        expected = _load(runs / f"two-byol-random-rank{r}.pt")
        assert not resumed["group_alive"]  # the Pretrainer owned the group and destroyed it
        assert resumed["resumed_from"] == str(resumed_dir / mid.name)  # not a fresh start
        for key, value in expected["state"].items():
            torch.testing.assert_close(resumed["state"][key], value, atol=1e-6, rtol=0, msg=key)
        assert resumed["losses"] == pytest.approx(expected["losses"], abs=1e-6)
    assert sorted(p.name for p in resumed_dir.iterdir()) == [
        "ckpt-epoch0000-step00000003.pt", "ckpt-epoch0001-step00000006.pt",
        "ckpt-epoch0002-step00000008.pt",
    ]  # fmt: skip
