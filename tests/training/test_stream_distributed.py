"""Streamed pretraining under ``torchrun --nproc-per-node 2`` (CPU, Gloo): each rank reads
only its half of every global batch, its memory does not grow with the cache, and the final
weights equal a one-process streamed run with the same global batch (``atol=1e-5``, see
``test_distributed.py`` for why not bit for bit), which itself equals in-memory training."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ecgssl.data.cache_build import build_signal_cache

CHILD = Path(__file__).with_name("stream_child.py")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed"),
]
N, LENGTH = 6000, 4000  # 6000 records x 3 leads x 4000 samples: a 275 MiB cache


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return {**env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _torchrun(*args: str) -> list[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    exe = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    launcher = [exe] if exe else [sys.executable, "-m", "torch.distributed.run"]
    return [*launcher, "--nnodes", "1", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
            "--master-port", port, str(CHILD), *args]  # fmt: skip


def _finish(proc: subprocess.Popen[str]) -> None:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, (out[-2000:], err[-3000:])


def test_two_streaming_ranks_match_one_process_and_read_only_their_shards(tmp_path):
    g = np.random.default_rng(0)
    build_signal_cache(tmp_path / "cache", lambda a, b: g.standard_normal((b - a, 3, LENGTH), dtype=np.float32),
                       N, fs=50.0, leads=["I", "II", "V1"], length=LENGTH, progress=False)  # fmt: skip
    kw = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "env": _env()}
    args = ["--cache", str(tmp_path / "cache")]
    two = subprocess.Popen(_torchrun(*args, "--out", str(tmp_path / "two")), **kw)
    _finish(two)
    for mode in ("one", "memory"):
        extra = ["--in-memory"] if mode == "memory" else []
        proc = subprocess.Popen([sys.executable, str(CHILD), *args, "--out", str(tmp_path / mode), *extra], **kw)  # fmt: skip
        _finish(proc)
    one = torch.load(tmp_path / "one-rank0.pt", weights_only=True)
    memory = torch.load(tmp_path / "memory-rank0.pt", weights_only=True)
    ranks = [torch.load(tmp_path / f"two-rank{r}.pt", weights_only=True) for r in (0, 1)]
    for key, value in one["state"].items():
        assert torch.equal(memory["state"][key], value), key  # streamed == in memory
        for rank in ranks:
            torch.testing.assert_close(rank["state"][key], value, atol=1e-5, rtol=0, msg=key)
    # each rank read its contiguous half of every global batch; together: the one-process
    # rows. Reads past the 6-step budget: the loop fetches a 7th batch to find the budget
    # spent, and the prefetch thread has read up to 2 more.
    assert 6 * 8 <= len(one["rows"]) <= 9 * 8
    assert all(6 * 4 <= len(r["rows"]) <= 9 * 4 for r in ranks)
    both = [ranks[r]["rows"][4 * k : 4 * k + 4] for k in range(6) for r in (0, 1)]
    assert sorted(r for b in both for r in b) == sorted(one["rows"][:48])
    assert not set(ranks[0]["rows"][:24]) & set(ranks[1]["rows"][:24])
    # memory: the in-memory run grows by at least the whole cache; the streamed processes
    # (one, and each rank) by less. Run alone, streamed processes grow by about 60 MiB
    # whatever the cache size; inside the full test suite on a loaded 2-core machine both
    # arms' working memory was seen 250-600 MiB higher and noisy by ~100 MiB, so a tight
    # bound would be flaky here. The tight figure is benchmarks/streaming.py's (0.9 GiB peak
    # RSS streaming a 30 GB corpus).
    cache_mib = one["cache_mib"]
    growth = (memory["rss_growth_mib"], one["rss_growth_mib"], cache_mib)
    assert memory["rss_growth_mib"] > cache_mib, growth
    assert one["rss_growth_mib"] < memory["rss_growth_mib"], growth
    for r in ranks:
        assert r["rss_growth_mib"] < memory["rss_growth_mib"], (r["rss_growth_mib"], growth)
