"""Layouts of the multi-branch encoder, timed forward + backward in one process.

Every layout computes the same function as the naive reference (a ``nn.ModuleList`` of one
Conv1d/BatchNorm/ReLU/MaxPool branch per lead, called lead by lead); variants are timed
interleaved (A, B, C, A, B, C, ...) and the median of the repeats is reported, so that the
ratios stay meaningful on a shared, noisy machine::

    python benchmarks/encoder_layouts.py            # batch 64 and 256, 12 x 250 samples
    python benchmarks/encoder_layouts.py --quick    # fewer repeats
    python benchmarks/encoder_layouts.py --batch 64 --length 5000 --device cuda

Layouts: ``naive`` (per-lead ModuleList), ``loop`` / ``grouped`` / ``bmm`` (the encoder's
``impl``), ``channels_last`` (the encoder's grouped conv2d on a channels-last tensor),
``vmap`` (``torch.func.vmap`` of conv1d over the stacked weights) and, for reference only (another function: one weight set), ``shared`` (leads folded into the batch).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ecgssl.encoders.multibranch import LeadConvBlock, MultiBranchEncoder
from ecgssl.training.allocator import tune_cpu_allocator


class NaiveMultiBranch(nn.Module):
    """The obvious reference: one ``nn.Sequential`` branch per lead, called in a loop."""

    def __init__(self, enc: MultiBranchEncoder) -> None:
        super().__init__()
        branches = []
        for lead in range(enc.n_leads):
            layers: list[nn.Module] = []
            for block in enc.blocks:
                assert isinstance(block, LeadConvBlock)
                conv = nn.Conv1d(block.c_in, block.c_out, block.kernel_size,
                                 padding=block.kernel_size // 2, bias=False)  # fmt: skip
                conv.weight.data.copy_(block.weight[lead])
                bn = nn.BatchNorm1d(block.c_out)
                sl = slice(lead * block.c_out, (lead + 1) * block.c_out)
                bn.weight.data.copy_(block.bn.weight[sl])
                bn.bias.data.copy_(block.bn.bias[sl])
                layers += [conv, bn, nn.ReLU(inplace=True)]
                if block.pool:
                    layers.append(nn.MaxPool1d(2))
            branches.append(nn.Sequential(*layers))
        self.branches = nn.ModuleList(branches)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, leads, time) -> (batch, leads, dim)."""
        return torch.stack([b(x[:, i : i + 1]).mean(-1) for i, b in enumerate(self.branches)], 1)


def vmap_forward(enc: MultiBranchEncoder, x: Tensor) -> Tensor:
    """``torch.func.vmap`` of one conv1d over the stacked (leads, out, in, k) weights."""
    b, n_leads, t = x.shape
    h = x.view(b, n_leads, 1, t)
    for block in enc.blocks:
        assert isinstance(block, LeadConvBlock)
        pad = block.kernel_size // 2
        conv = torch.func.vmap(lambda w, xi, p=pad: F.conv1d(xi, w, padding=p), in_dims=(0, 1))
        y = conv(block.weight, h)  # (leads, B, c_out, T)
        y = y.transpose(0, 1).reshape(b, n_leads * block.c_out, -1)
        y = F.relu(block.bn(y))
        y = F.max_pool1d(y, 2) if block.pool else y
        h = y.view(b, n_leads, block.c_out, -1)
    return h.mean(-1).reshape(b, n_leads, -1)


def variants(enc: MultiBranchEncoder, shared: MultiBranchEncoder) -> dict[str, Callable]:
    """Name -> callable (batch, leads, time) -> (batch, leads, dim)."""
    naive = NaiveMultiBranch(enc).to(next(enc.parameters()).device)

    def with_impl(impl: str) -> Callable[[Tensor], Tensor]:
        def run(x: Tensor) -> Tensor:
            enc.impl = impl
            return enc.forward_leads(x)

        return run

    return {
        "naive": naive,
        "loop": with_impl("loop"),
        "grouped": with_impl("grouped"),
        "bmm": with_impl("bmm"),
        "channels_last": with_impl("channels_last"),
        "vmap": lambda x: vmap_forward(enc, x),
        "shared": shared.forward_leads,
    }


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_interleaved(
    fns: dict[str, Callable[[Tensor], Tensor]], x: Tensor, repeats: int, inner: int
) -> dict[str, float]:
    """Median seconds per forward + backward of each variant, timed round-robin."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(2):  # warm-up
        for fn in fns.values():
            fn(x).sum().backward()
    for _ in range(repeats):
        for name, fn in fns.items():
            sync(x.device)
            t0 = time.perf_counter()
            for _ in range(inner):
                fn(x).sum().backward()
            sync(x.device)
            times[name].append((time.perf_counter() - t0) / inner)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--length", type=int, default=250, help="samples per lead")
    parser.add_argument("--leads", type=int, default=12)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--system-malloc", action="store_true",
                        help="leave glibc malloc as is (default: tuned, as the Pretrainer does)")  # fmt: skip
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    malloc_tuned = False if args.system_malloc else tune_cpu_allocator()
    device = torch.device(args.device)
    torch.manual_seed(0)
    enc = MultiBranchEncoder(args.leads).to(device)
    shared = MultiBranchEncoder(args.leads, shared_weights=True, impl="bmm").to(device)
    fns = variants(enc, shared)
    x0 = torch.randn(3, args.leads, args.length, device=device)
    ref = fns["naive"](x0)
    for name, fn in fns.items():
        if name != "shared":
            torch.testing.assert_close(fn(x0), ref, atol=1e-4, rtol=1e-4, msg=name)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"device={device} threads={args.threads} leads={args.leads} length={args.length} "
          f"load1={load:.2f} torch={torch.__version__} malloc tuned={malloc_tuned}")  # fmt: skip
    results: dict = {"device": str(device), "load1": load, "malloc_tuned": malloc_tuned,
                     "rows": []}  # fmt: skip
    for batch in args.batch:
        x = torch.randn(batch, args.leads, args.length, device=device)
        inner = 1 if args.quick or batch * args.length > 64 * 2500 else 3
        med = time_interleaved(fns, x, repeats=3 if args.quick else 7, inner=inner)
        print(f"\nbatch {batch}: samples/s (forward + backward), ratio to naive")
        for name, sec in med.items():
            print(f"  {name:<13} {batch / sec:9.0f}   {med['naive'] / sec:5.2f}x")
            results["rows"].append({"batch": batch, "layout": name, "samples_per_s": batch / sec,
                                    "vs_naive": med["naive"] / sec})  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
