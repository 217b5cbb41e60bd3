"""A small cache build, launched by ``test_cache_build.py``; optionally SIGKILLs itself.

``--kill-at-chunk K`` kills the process inside the K-th call of the producer (1-based), after
the earlier chunks were written and recorded: the build is interrupted half-way. Every call of
the producer appends its ``start`` to ``--calls`` so the test can check where a resumed build
started.
"""

from __future__ import annotations

import argparse
import os
import signal

import numpy as np

from ecgssl.data.cache_build import build_signal_cache

N, LEADS, LENGTH = 50, ("I", "II", "V1"), 40


def records(start: int, stop: int) -> np.ndarray:
    """Deterministic records: row r holds values r + small offsets."""
    rows = np.arange(start, stop, dtype=np.float32)[:, None, None]
    grid = np.linspace(-1, 1, len(LEADS) * LENGTH, dtype=np.float32).reshape(len(LEADS), LENGTH)
    return rows / 10 + grid


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folder", required=True)
    ap.add_argument("--calls", required=True)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--kill-at-chunk", type=int, default=0)
    args = ap.parse_args()
    count = 0

    def produce(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        nonlocal count
        count += 1
        with open(args.calls, "a") as f:
            f.write(f"{start}\n")
        if count == args.kill_at_chunk:
            os.kill(os.getpid(), signal.SIGKILL)
        ok = np.arange(start, stop) != 13  # row 13 "unreadable"
        return records(start, stop), ok

    build_signal_cache(args.folder, produce, N, fs=50.0, leads=LEADS, length=LENGTH,
                       dtype=args.dtype, chunk_records=8, key="child", progress=False)  # fmt: skip


if __name__ == "__main__":
    main()
