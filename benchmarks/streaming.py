"""Streamed pretraining from a corpus larger than RAM, against in-memory training.

1. Builds a synthetic corpus in the signal-cache format (:func:`ecgssl.data.cache_build.
   build_signal_cache`; sums of sinusoids with per-record rhythm, per-lead gains and noise,
   12 leads x 10 s at 100 Hz, float32) of ``--size-gb`` on disk, in bounded memory.
2. Evicts the corpus from the page cache (``posix_fadvise(DONTNEED)``), so that reads come
   from the disk.
3. Pretrains ``--steps`` steps (batch ``--batch-size``) streaming from the whole corpus, in
   a fresh process; records are drawn from across all of it (a random permutation).
4. Pretrains the same steps in a fresh process on an in-memory subset of ``--subset-gb``.
5. Prints peak RSS of each process and samples/s, and deletes the corpus (always).

Run pinned to one core with one thread, e.g.::

    taskset -c 1 env OMP_NUM_THREADS=1 python benchmarks/streaming.py --size-gb 30 \\
        --dir /data/tmp --json benchmarks/results/streaming/streaming.json

``--size-gb 0.5 --steps 20`` is a quick run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
FS, SECONDS = 100.0, 10.0


def peak_rss_gib() -> float:
    """Peak resident set size of this process in GiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


_NOISE: np.ndarray | None = None


def synthetic_chunk(start: int, stop: int, length: int) -> np.ndarray:
    """Records ``start .. stop - 1``: deterministic in ``start`` (a resumed build rewrites a
    chunk identically). Per record a rhythm of 0.8-2 Hz with two harmonics, per-lead gains,
    baseline wander and white noise (a slice of a fixed noise bank at a per-chunk offset:
    drawing fresh Gaussian noise would make the build CPU-bound); float32, unit-ish scale."""
    global _NOISE
    if _NOISE is None:
        _NOISE = 0.1 * np.random.default_rng(0).standard_normal(2**24, dtype=np.float32)
    rng = np.random.default_rng(start)
    n = stop - start
    t = np.arange(length, dtype=np.float32) / np.float32(FS)
    f = rng.uniform(0.8, 2.0, (n, 1, 1)).astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1)).astype(np.float32)
    beat = (np.sin(2 * np.pi * f * t + phase) + 0.5 * np.sin(4 * np.pi * f * t + phase)
            + 0.25 * np.sin(6 * np.pi * f * t) + 0.2 * np.sin(2 * np.pi * 0.2 * t + phase))  # fmt: skip
    gains = rng.normal(0, 1, (n, len(LEADS), 1)).astype(np.float32)
    size = n * len(LEADS) * length
    reps = -(-(size + 2**20) // len(_NOISE))
    bank = np.tile(_NOISE, reps) if reps > 1 else _NOISE
    offset = int(rng.integers(0, 2**20))
    x = bank[offset : offset + size].reshape(n, len(LEADS), length).copy()
    x += gains * beat
    return x


def build(folder: Path, size_gb: float) -> dict[str, float]:
    from ecgssl.data.cache_build import build_signal_cache

    length = round(FS * SECONDS)
    n = int(size_gb * 1e9 // (len(LEADS) * length * 4))
    t0 = time.perf_counter()
    cache = build_signal_cache(folder, lambda a, b: synthetic_chunk(a, b, length), n, fs=FS,
                               leads=LEADS, length=length, key="benchmark-synthetic",
                               desc="Writing corpus")  # fmt: skip
    seconds = time.perf_counter() - t0
    return {"records": n, "bytes": cache.nbytes, "build_s": seconds,
            "build_MBps": cache.nbytes / 1e6 / seconds, "build_peak_rss_gib": peak_rss_gib()}  # fmt: skip


def evict(folder: Path) -> None:
    """Drop the corpus from the page cache so the streamed run reads from the disk."""
    path = folder / "signals.npy"
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def train(mode: str, folder: Path, args: argparse.Namespace) -> dict[str, float]:
    import torch

    from ecgssl.augment.policies import ssl_policy
    from ecgssl.data.signal_cache import open_signal_cache
    from ecgssl.data.streamed import stream_caches
    from ecgssl.registry import ENCODERS, METHODS
    from ecgssl.training import Pretrainer

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    method = METHODS.build(args.method, encoder=ENCODERS.build("multibranch", n_leads=12))
    trainer = Pretrainer(method, ssl_policy(2.5), steps=args.steps, batch_size=args.batch_size,
                         progress=False, device="cpu", health_every=0, amp=False)  # fmt: skip
    cache = open_signal_cache(folder)
    out: dict[str, float] = {}
    if mode == "stream":
        data = stream_caches([cache])
        order = data.epoch_order(torch.Generator().manual_seed(0))[: args.steps * args.batch_size]
        out["records_drawn_span"] = float((order.max() - order.min()) / len(data))
        out["corpus_records"] = float(len(data))
        from ecgssl.training import stream_batches

        seen: list[stream_batches.StreamBatches] = []
        init = stream_batches.StreamBatches.__init__

        def remember(self: stream_batches.StreamBatches, *a: object, **k: object) -> None:
            init(self, *a, **k)  # type: ignore[arg-type]
            seen.append(self)

        stream_batches.StreamBatches.__init__ = remember  # type: ignore[method-assign]
        t0, c0 = time.perf_counter(), time.process_time()
        result = trainer.fit(data)
        # Reading that overlapped compute costs nothing; what the loop waited for does.
        out["read_s"], out["data_wait_s"] = seen[0].read_seconds, seen[0].wait_seconds
    else:
        n = min(len(cache), int(args.subset_gb * 1e9 // (cache.nbytes / len(cache))))
        x = cache.read(np.arange(n))
        out["subset_records"] = float(n)
        t0, c0 = time.perf_counter(), time.process_time()
        result = trainer.fit(torch.from_numpy(x), fs=cache.fs, leads=list(cache.leads))
    out["wall_s"] = time.perf_counter() - t0
    # CPU seconds of the process (all threads): on a core shared with other jobs, samples per
    # CPU-second is the contention-free figure; wall-clock samples/s is what a user sees.
    out["cpu_s"] = time.process_time() - c0
    out["samples_per_cpu_s"] = args.steps * args.batch_size / out["cpu_s"]
    out["loadavg_1min_after"] = os.getloadavg()[0]
    h = result.history[-1]
    out.update({"samples_per_s": h["samples_per_s"], "train_s": h["seconds"],
                "loss": h["loss"], "peak_rss_gib": peak_rss_gib()})  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--size-gb", type=float, default=30.0, help="corpus size on disk (GB)")
    ap.add_argument("--subset-gb", type=float, default=1.0, help="in-memory subset (GB)")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--method", default="simclr")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dir", type=Path, default=Path("."), help="where the corpus is written")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--stage", choices=("build", "stream", "memory"), help=argparse.SUPPRESS)
    ap.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage:  # a child process: one stage, its figures as JSON on the last line
        res = build(args.corpus, args.size_gb) if args.stage == "build" else train(
            args.stage, args.corpus, args)  # fmt: skip
        print(json.dumps(res))
        return

    corpus = args.dir / f"ecgssl-streaming-corpus-{os.getpid()}"
    figures: dict[str, object] = {"args": {k: str(v) for k, v in vars(args).items()}}

    def stage(name: str) -> dict[str, float]:
        cmd = [sys.executable, __file__, "--stage", name, "--corpus", str(corpus),
               *sys.argv[1:]]  # fmt: skip
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{name}: {json.dumps(res)}", flush=True)
        return res

    try:
        figures["build"] = stage("build")
        evict(corpus)
        figures["stream"] = stream = stage("stream")
        figures["memory"] = memory = stage("memory")
        ratio = stream["samples_per_s"] / memory["samples_per_s"]
        figures["stream_vs_memory"] = ratio
        figures["stream_vs_memory_per_cpu_s"] = cpu_ratio = (
            stream["samples_per_cpu_s"] / memory["samples_per_cpu_s"])  # fmt: skip
        b = figures["build"]
        assert isinstance(b, dict)
        print(f"\ncorpus: {b['records']:.0f} records, {b['bytes'] / 1e9:.1f} GB on disk, built "
              f"in {b['build_s']:.0f} s ({b['build_MBps']:.0f} MB/s, peak RSS "
              f"{b['build_peak_rss_gib']:.2f} GiB)")  # fmt: skip
        print(f"streamed:  {stream['samples_per_s']:.1f} samples/s, peak RSS "
              f"{stream['peak_rss_gib']:.2f} GiB, records drawn span "
              f"{100 * stream['records_drawn_span']:.1f}% of the corpus; reading took "
              f"{stream['read_s']:.1f} s, the loop waited {stream['data_wait_s']:.1f} s of "
              f"{stream['wall_s']:.0f} s")  # fmt: skip
        print(f"in memory: {memory['samples_per_s']:.1f} samples/s, peak RSS "
              f"{memory['peak_rss_gib']:.2f} GiB ({memory['subset_records']:.0f} records)")  # fmt: skip
        print(f"streamed / in memory: {100 * ratio:.1f}% (samples/s), {100 * cpu_ratio:.1f}% "
              "(samples per CPU-second)")  # fmt: skip
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
    finally:
        shutil.rmtree(corpus, ignore_errors=True)


if __name__ == "__main__":
    main()
