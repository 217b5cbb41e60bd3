"""A short streamed pretraining run, launched by ``test_stream_distributed.py`` with or without
torchrun (the models and fixed views of ``distributed_child.py``).

Each rank writes ``{out}-rank{r}.pt``: the method's state, the losses, the rows it read and
how much its resident memory grew during ``fit`` (peak RSS minus RSS before).
``--in-memory`` trains on the cache read whole into a tensor instead (the reference).
"""

from __future__ import annotations

import argparse
import os
import resource

import numpy as np
import torch
from distributed_child import VIEWS, build

from ecgssl.data.signal_cache import SignalCache, open_signal_cache
from ecgssl.data.streamed import stream_caches
from ecgssl.training import Pretrainer

SETTINGS = {"steps": 6, "batch_size": 8, "optimizer": "sgd", "lr": 0.05, "momentum": 0.9,
            "warmup_steps": 2, "progress": False, "device": "cpu", "health_every": 0,
            "amp": False}  # fmt: skip


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        line = next(x for x in f if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--in-memory", action="store_true")
    args = ap.parse_args()
    cache = open_signal_cache(args.cache)
    rows: list[int] = []
    read = SignalCache.read

    def counting_read(self: SignalCache, r: np.ndarray) -> np.ndarray:
        rows.extend(np.asarray(r).tolist())
        return read(self, r)

    method = build("simclr")
    trainer = Pretrainer(method, VIEWS["fixed"](), **SETTINGS)
    before = rss_mib()
    if args.in_memory:
        data = torch.from_numpy(cache.read(np.arange(len(cache))))
        result = trainer.fit(data, fs=cache.fs, leads=list(cache.leads))
    else:
        SignalCache.read = counting_read  # type: ignore[method-assign]
        result = trainer.fit(stream_caches([cache]))
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    rk = os.environ.get("RANK", "0")
    torch.save({"state": result.method.state_dict(), "losses": [h["loss"] for h in result.history],
                "rows": rows, "rss_growth_mib": grew, "cache_mib": cache.nbytes / 2**20},
               f"{args.out}-rank{rk}.pt")  # fmt: skip


if __name__ == "__main__":
    main()
