"""Crash safety, proven: SIGKILL a pretraining process mid-epoch and mid-save, restart it,
and the final weights equal those of a run that was never interrupted.

The child (``resume_child.py``) kills itself at counted points (the N-th training step or
checkpoint save of the process), so the test does not depend on timing. CPU, one thread,
deterministic algorithms.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ecgssl.training import find_checkpoints, load_checkpoint

CHILD = Path(__file__).with_name("resume_child.py")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL"),
]


def _cmd(out: Path, ckpt_dir: Path | None, *kill: str) -> list[str]:
    cmd = [sys.executable, str(CHILD), "--out", str(out), *kill]
    return cmd + (["--ckpt-dir", str(ckpt_dir)] if ckpt_dir is not None else [])


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _run(out: Path, ckpt_dir: Path, *kill: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _cmd(out, ckpt_dir, *kill), capture_output=True, text=True, env=_env(), timeout=240
    )


def _killed(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-2000:])


def _steps(ckpt_dir: Path) -> list[int]:
    return [load_checkpoint(p)["step"] for p in find_checkpoints(ckpt_dir)]


def test_sigkill_mid_epoch_and_mid_save_then_resume_matches_uninterrupted(tmp_path):
    # 24 records, batch 4: 6 steps per epoch, 3 epochs = 18 steps. Checkpoints every 4 steps
    # and at every epoch end: after steps 4, 6, 8, 12, 16, 18; the last 3 are kept.
    ref_out = tmp_path / "reference.pt"
    reference = subprocess.Popen(
        _cmd(ref_out, None), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env()
    )
    ckpt_dir, out = tmp_path / "ckpts", tmp_path / "resumed.pt"

    # 1. Killed inside the 10th training step (epoch 2, 4th batch): checkpoints 4, 6, 8 exist.
    _killed(_run(out, ckpt_dir, "--kill-at-call", "10"))
    assert _steps(ckpt_dir) == [4, 6, 8]

    # 2. Restarted from step 8; killed in its first save (step 12) between fsync and rename:
    #    a temporary file is left behind, no file under a checkpoint name is partial.
    _killed(_run(out, ckpt_dir, "--kill-before-rename", "1"))
    assert _steps(ckpt_dir) == [4, 6, 8]
    assert len(list(ckpt_dir.glob(".ckpt-*.tmp"))) == 1

    # 3. The newest checkpoint gets truncated (e.g. a disk error): the restart warns, skips it,
    #    falls back to step 6, cleans the stale temporary file, and is killed half-way through
    #    writing its second save (step 12).
    newest = find_checkpoints(ckpt_dir)[-1]
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 3])
    proc = _run(out, ckpt_dir, "--kill-mid-write", "2")
    _killed(proc)
    assert "skipping unreadable checkpoint" in proc.stderr and newest.name in proc.stderr
    assert "removed 1 partial checkpoint" in proc.stderr
    assert _steps(ckpt_dir) == [4, 6, 8]  # step 8 rewritten whole; step 12 never renamed

    # 4. A plain restart finishes the run from step 8.
    proc = _run(out, ckpt_dir)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _steps(ckpt_dir) == [12, 16, 18]
    assert not list(ckpt_dir.glob(".ckpt-*.tmp"))

    _, ref_err = reference.communicate(timeout=240)
    assert reference.returncode == 0, ref_err[-2000:]
    resumed = torch.load(out, weights_only=True)
    expected = torch.load(ref_out, weights_only=True)
    assert resumed["resumed_from"].endswith("ckpt-epoch0001-step00000008.pt")
    assert resumed["state"].keys() == expected["state"].keys()
    for key, value in expected["state"].items():
        torch.testing.assert_close(resumed["state"][key], value, atol=1e-6, rtol=0, msg=key)
    torch.testing.assert_close(
        torch.tensor(resumed["losses"]), torch.tensor(expected["losses"]), atol=1e-6, rtol=0
    )
