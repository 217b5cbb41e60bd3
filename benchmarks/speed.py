"""Training-speed table of ecgssl, with reference implementations timed in the same run.

For bell, byol and simclr on their default (multi-branch) encoder: pretraining samples/s of
one full step (two views -> forward -> backward -> optimiser step -> EMA update) at
100 Hz x 2.5 s and 500 Hz x 10 s, batch 64 and 256, in float32 or under bfloat16 autocast
(``--amp``), optionally with activation checkpointing (``--checkpointing``); peak memory.
Each step row carries a roofline measured in the same run, right
after the step (same machine load): the fp32 and the bf16 matmul peak (GFLOP/s), the memory
bandwidth (a 256 MiB copy, GB/s), the step's FLOPs (``torch.utils.flop_counter.FlopCounterMode``)
and its estimated memory traffic (every aten op reading its inputs and writing its outputs,
views excluded), so a reader sees whether compute or memory binds. Then the augmentation pipelines
against ``ecg-augmentations`` 1.0.1 (same transforms, same batch), the multi-branch encoder
against a naive per-lead ``nn.ModuleList`` loop, and reads of a memory-mapped dataset cache.
Prints one table and writes it as JSON::

    pip install -r benchmarks/requirements.txt     # references (benchmarks only)
    python benchmarks/speed.py --quick             # 100 Hz only, a few minutes on 2 cores
    python benchmarks/speed.py --json benchmarks/results/speed.json
    python benchmarks/speed.py --quick --amp auto  # bf16 rows where the CPU/GPU has fast bf16
    python benchmarks/speed.py --memory --fs 500 --batch 256 --checkpointing --skip compile \
        augment encoder cache                      # peak RSS of one 500 Hz x 10 s step

Peak memory is the process' peak RSS (``VmHWM``), reset before each step row where Linux
allows it (``/proc/self/clear_refs``); memory the tuned allocator kept from an earlier row
still counts, so publish per-row peaks from one row per process (``--fs``/``--batch``).
A row whose estimated memory (:func:`step_memory_estimate`) exceeds 90 % of the available
memory is skipped.

Variants compared by a ratio are timed interleaved (A, B, A, B, ...) and the median of the
repeats is reported, so that ratios stay meaningful on a shared machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from encoder_layouts import NaiveMultiBranch, time_interleaved

from ecgssl.augment import Compose, ssl_policy
from ecgssl.augment.amplitude import AmplitudeScale
from ecgssl.augment.crop import RandomResizedCrop
from ecgssl.augment.masking import TimeMask
from ecgssl.augment.noise import BaselineWander, GaussianNoise
from ecgssl.encoders.multibranch import MultiBranchEncoder
from ecgssl.precision import AmpPlan, resolve_amp
from ecgssl.registry import ENCODERS, METHODS
from ecgssl.training.allocator import tune_cpu_allocator

METHOD_NAMES = ("bell", "byol", "simclr")
# (fs, seconds, batch); --quick keeps the 100 Hz ones (a 500 Hz x 10 s step is 20x the work).
CONFIGS = ((100.0, 2.5, 64), (100.0, 2.5, 256), (500.0, 10.0, 64), (500.0, 10.0, 256))
# Peak RSS of one default-encoder BELL step over its input's bytes (batch x 12 x T x 4), with
# glibc malloc tuned (the Pretrainer's default) and as it comes; see step_memory_estimate.
MEMORY_FACTOR = {(False, True): 600.0, (False, False): 600.0, (True, True): 335.0,
                 (True, False): 205.0}  # (checkpointing, malloc tuned) -> factor  # fmt: skip


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory since the last :func:`reset_peak_memory`: CUDA allocator peak, or the
    process' peak RSS on CPU (``VmHWM``; ``ru_maxrss`` where /proc is missing)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 2**10
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak: the CUDA allocator's, or on Linux the peak RSS (``clear_refs`` 5
    sets it to the current RSS); elsewhere the peak stays monotone over the run."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def matmul_peak(device: torch.device, n: int = 2048, repeats: int = 5,
                dtype: torch.dtype = torch.float32, budget_s: float = 0.25) -> float:  # fmt: skip
    """Best GFLOP/s of square matmuls up to n x n in ``dtype`` (the compute roofline).

    Sizes double from 256 to ``n``, ``repeats`` calls each, and stop growing once one call
    takes longer than ``budget_s``: an emulated bfloat16 (a CPU without AVX-512 BF16/AMX) runs
    at ~1 GFLOP/s, where one 2048 x 2048 matmul would take half a minute.
    """
    best_rate, size = 0.0, min(256, n)
    while size <= n:
        a = torch.randn(size, size, device=device).to(dtype)
        b = torch.randn(size, size, device=device).to(dtype)
        a @ b
        best = float("inf")
        for _ in range(repeats):
            sync(device)
            t0 = time.perf_counter()
            a @ b
            sync(device)
            best = min(best, time.perf_counter() - t0)
            if best > budget_s:
                break
        best_rate = max(best_rate, 2 * size**3 / best / 1e9)
        if best > budget_s / 4:  # the next size is 8x the work
            break
        size *= 2
    return best_rate


def copy_bandwidth(device: torch.device, mib: int = 256, repeats: int = 3) -> float:
    """Best GB/s of copying a ``mib`` MiB float32 tensor into another (read + write bytes).

    A preallocated destination (``copy_``, not ``clone``) keeps page faults out of it: this
    is the streaming bandwidth a step's activations see once the allocator reuses memory.
    """
    n = mib * 2**20 // 4
    src, dst = torch.ones(n, device=device), torch.empty(n, device=device)
    dst.copy_(src)
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        dst.copy_(src)
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n * 4 / best / 1e9


def roofline(device: torch.device) -> dict[str, float]:
    """fp32 and bf16 matmul peaks (GFLOP/s) and copy bandwidth (GB/s), measured now."""
    return {
        "fp32_peak_gflop_per_s": matmul_peak(device, repeats=3),
        "bf16_peak_gflop_per_s": matmul_peak(device, repeats=3, dtype=torch.bfloat16),
        "bandwidth_gb_per_s": copy_bandwidth(device),
    }


class ByteCounter(TorchDispatchMode):
    """Estimated memory traffic: the bytes of every aten op's tensor inputs and outputs.

    Assumes each op reads its operands from memory and writes its results back (no cache
    reuse between ops; re-reads inside an op, e.g. a matmul's tiles, are not counted). View
    ops move nothing and are skipped. Small working sets that stay in cache make the real
    DRAM traffic lower, so "GB/s" from this estimate can exceed the copy bandwidth.
    """

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        if not getattr(func, "is_view", False):
            for t in pytree.tree_leaves((args, kwargs, out)):
                if isinstance(t, torch.Tensor):
                    self.bytes += t.numel() * t.element_size()
        return out


def build_method(name: str, n_leads: int, device: torch.device,
                 checkpointing: bool = False) -> torch.nn.Module:  # fmt: skip
    """``name`` on its default encoder; with ``checkpointing`` the online encoder's blocks
    are checkpointed, as ``PretrainConfig(activation_checkpointing=True)`` does."""
    cls = METHODS.get(name)
    enc = ENCODERS.build({**cls.default_encoder(), "n_leads": n_leads})
    method = METHODS.build(name, encoder=enc).to(device)
    if checkpointing:
        enc.set_checkpointing(True)  # after the method copied its EMA targets: online only
    return method


def make_step(method: torch.nn.Module, x: torch.Tensor, amp: AmpPlan | None = None
              ) -> Callable[[], None]:  # fmt: skip
    """One pretraining step on fixed views (augmentation is timed separately), with the
    forward pass under ``amp``'s autocast as the Pretrainer runs it."""
    opt = torch.optim.AdamW([p for p in method.parameters() if p.requires_grad], lr=1e-3)
    v1, v2 = x, x.flip(-1).contiguous()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with amp.autocast() if amp is not None else contextlib.nullcontext():
            loss = method.training_step(v1, v2)["loss"]  # type: ignore[operator]
        loss.backward()
        opt.step()
        if method.uses_momentum:  # type: ignore[truthy-function]
            method.update_target(0.5)  # type: ignore[operator]

    return step


def step_memory_estimate(batch: int, t: int, checkpointing: bool = False,
                         malloc_tuned: bool = True, bf16: bool = False) -> float:  # fmt: skip
    """Bytes (peak RSS) one default-encoder BELL step needs in float32, as ``MEMORY_FACTOR`` x
    its input's, measured at 500 Hz x 10 s on CPU (benchmarks/README.md): about 600 x
    without checkpointing (8.8 GiB at batch 64), with activation checkpointing 335 x with
    tuned malloc (4.6 GiB at batch 64, 9.5 GiB at 128) and 205 x with glibc's defaults
    (2.9 GiB at batch 64). Under bfloat16 autocast a checkpointed step measured 0.6 x the
    float32 one (2.9 GiB at batch 64, 5.6 GiB at 128, tuned malloc); without checkpointing
    the float32 figure is kept as the bound."""
    scale = 0.62 if bf16 and checkpointing else 1.0
    return scale * MEMORY_FACTOR[checkpointing, malloc_tuned] * batch * 12 * t * 4


def _available_memory(device: torch.device) -> float | None:
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return float(free)
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def count_flops(method: torch.nn.Module, step: Callable[[], None]) -> int:
    """FLOPs of one step, counted with the encoders' per-lead ``loop`` layout (same function).

    ``FlopCounterMode`` over-counts the backward of grouped convolutions (about 3x here: its
    formula ignores ``groups`` for the weight gradient), so the count uses ungrouped convs.
    """
    encoders = [m for m in method.modules() if isinstance(m, MultiBranchEncoder)]
    impls = [e.impl for e in encoders]
    for e in encoders:
        e.impl = "loop"
    try:
        with FlopCounterMode(display=False) as counter:
            step()
    finally:
        for e, impl in zip(encoders, impls):
            e.impl = impl
    return counter.get_total_flops()


def count_bytes(step: Callable[[], None]) -> int:
    """Estimated bytes one step moves (:class:`ByteCounter`), in the layout it runs."""
    with ByteCounter() as counter:
        step()
    return counter.bytes


def bench_memory(args: argparse.Namespace, device: torch.device, amp: AmpPlan) -> list[dict]:
    """``--memory``: one step per method and config (allocations and optimiser state
    included), its time and the peak memory; no FLOP or byte counts, no roofline."""
    rows = []
    print(f"  {'method':<7} {'input':>16} {'batch':>5} {'prec':>4} {'ckpt':>4} {'s/step':>7} "
          f"{'peak RSS MiB':>12} {'estimate MiB':>12}")  # fmt: skip
    for fs, seconds, batch, need, x in _fitting_inputs(args, rows, device, amp):
        for name in args.methods:
            torch.manual_seed(0)
            method = build_method(name, 12, device, args.checkpointing)
            step = make_step(method, x, amp)
            reset_peak_memory(device)
            sync(device)
            t0 = time.perf_counter()
            step()
            sync(device)
            sec = time.perf_counter() - t0
            peak = peak_memory_mb(device)
            rows.append({
                "method": name, "fs": fs, "seconds": seconds, "batch": batch,
                "precision": amp.label, "checkpointing": args.checkpointing,
                "seconds_per_step": sec, "peak_memory_mb": peak, "estimated_mb": need / 2**20,
            })  # fmt: skip
            print(f"  {name:<7} {fs:5.0f} Hz x {seconds:4.1f} s {batch:5d} {amp.label:>4} "
                  f"{'on' if args.checkpointing else 'off':>4} {sec:7.1f} {peak:12.0f} "
                  f"{need / 2**20:12.0f}", flush=True)  # fmt: skip
            del method, step
    return rows


def _configs(args: argparse.Namespace) -> tuple[tuple[float, float, int], ...]:
    """(fs, seconds, batch) of the step rows: ``CONFIGS``, or its inputs at ``--batch``'s
    sizes, narrowed to ``--fs``'s rates (and to 100 Hz with ``--quick``)."""
    configs = CONFIGS[:2] if args.quick else CONFIGS
    if args.batch:
        inputs = dict.fromkeys((fs, seconds) for fs, seconds, _ in configs)
        configs = tuple((fs, seconds, b) for fs, seconds in inputs for b in args.batch)
    return tuple(c for c in configs if not args.fs or c[0] in args.fs)


def _fitting_inputs(
    args: argparse.Namespace, rows: list[dict], device: torch.device, amp: AmpPlan
) -> Iterator[tuple[float, float, int, float, Tensor]]:
    """``(fs, seconds, batch, need, x)`` for every config whose step fits in memory (the
    others are noted in ``rows`` and skipped): ``need`` its estimated bytes, ``x`` a random
    (batch, 12, time) input."""
    for fs, seconds, batch in _configs(args):
        t = round(fs * seconds)
        need = step_memory_estimate(batch, t, args.checkpointing, not args.system_malloc,
                                    amp.label == "bf16")  # fmt: skip
        if not _skip_for_memory(rows, fs, seconds, batch, need, device):
            yield fs, seconds, batch, need, torch.randn(batch, 12, t, device=device)


def _skip_for_memory(rows: list[dict], fs: float, seconds: float, batch: int, need: float,
                     device: torch.device) -> bool:  # fmt: skip
    """Whether a config whose step needs about ``need`` bytes does not fit (noted in ``rows``)."""
    have = _available_memory(device)
    if have is None or need <= 0.9 * have:
        return False
    print(f"  {fs:5.0f} Hz x {seconds:4.1f} s  batch {batch:4d}: skipped, a step needs about "
          f"{need / 2**30:.0f} GiB and {have / 2**30:.0f} GiB are available", flush=True)  # fmt: skip
    rows.append({"fs": fs, "seconds": seconds, "batch": batch, "skipped": "memory",
                 "estimated_bytes": need, "available_bytes": have})  # fmt: skip
    return True


def bench_methods(args: argparse.Namespace, device: torch.device, amp: AmpPlan) -> list[dict]:
    if args.memory:
        return bench_memory(args, device, amp)
    rows: list[dict] = []
    print(f"  {'method':<7} {'input':>16} {'batch':>5} {'prec':>4} {'samples/s':>9} "
          f"{'GFLOP/s':>8} {'%fp32':>6} {'%bf16':>7} {'GB/step':>7} {'GB/s':>6} {'%bw':>5} "
          f"{'FLOP/B':>6} {'bound':>7} {'RSS MB':>7}")  # fmt: skip
    for fs, seconds, batch, _, x in _fitting_inputs(args, rows, device, amp):
        t = x.shape[-1]
        big = batch * t > 64 * 2500
        for name in args.methods:
            torch.manual_seed(0)
            method = build_method(name, 12, device, args.checkpointing)
            step = make_step(method, x, amp)
            reset_peak_memory(device)
            step()  # warm-up (allocations, oneDNN primitive cache)
            flops = count_flops(method, step)
            moved = count_bytes(step)
            times = []
            for _ in range(1 if big else (2 if args.quick else 5)):
                sync(device)
                t0 = time.perf_counter()
                step()
                sync(device)
                times.append(time.perf_counter() - t0)
            sec = statistics.median(times)
            gflops, gbps = flops / sec / 1e9, moved / sec / 1e9
            # The roofline measured right after the step, under the same machine load.
            roof = roofline(device)
            fp32, bf16, bw = (max(roof[k], 1e-9) for k in roof)
            # The compute roof of this step's precision. The step needs at least FLOPs / peak
            # and at least bytes / bandwidth; the longer of the two minimums is the bound.
            compute_peak = bf16 if amp.label == "bf16" else fp32
            t_compute, t_memory = flops / 1e9 / compute_peak, moved / 1e9 / bw
            bound = "compute" if t_compute >= t_memory else "memory"
            rows.append({
                "method": name, "fs": fs, "seconds": seconds, "batch": batch,
                "precision": amp.label, "checkpointing": args.checkpointing,
                "samples_per_s": batch / sec,
                "gflop_per_step": flops / 1e9, "gflop_per_s": gflops, **roof,
                "matmul_peak_gflop_per_s": fp32, "fraction_of_peak": gflops / fp32,
                "fraction_of_bf16_peak": gflops / bf16, "gb_per_step": moved / 1e9,
                "gb_per_s": gbps, "fraction_of_bandwidth": gbps / bw,
                "flop_per_byte": flops / max(moved, 1), "bound": bound,
                "peak_memory_mb": peak_memory_mb(device),
            })  # fmt: skip
            print(f"  {name:<7} {fs:5.0f} Hz x {seconds:4.1f} s {batch:5d} {amp.label:>4} "
                  f"{batch / sec:9.1f} {gflops:8.1f} {100 * gflops / fp32:5.1f}% "
                  f"{100 * gflops / bf16:6.0f}% {moved / 1e9:7.2f} {gbps:6.1f} "
                  f"{100 * gbps / bw:4.0f}% {flops / max(moved, 1):6.1f} {bound:>7} "
                  f"{peak_memory_mb(device):7.0f}   (roof: fp32 {fp32:.0f}, bf16 {bf16:.3g} "
                  f"GFLOP/s, {bw:.1f} GB/s)", flush=True)  # fmt: skip
            del method, step
    return rows


def bench_compile(args: argparse.Namespace, device: torch.device) -> list[dict]:
    """BELL step eager vs ``torch.compile`` (the ``compile=True`` option), interleaved."""
    rows = []
    for batch in (64, 256):
        x = torch.randn(batch, 12, 250, device=device)
        steps, first = {}, {}
        for mode in ("eager", "compiled"):
            torch.manual_seed(0)
            method = build_method("bell", 12, device)
            if mode == "compiled":
                method.training_step = torch.compile(method.training_step)  # type: ignore[method-assign]
            steps[mode] = make_step(method, x)
            sync(device)
            t0 = time.perf_counter()
            try:
                steps[mode]()
                steps[mode]()
            except Exception as e:  # no C++ compiler, unsupported backend...
                print(f"  torch.compile failed, row skipped: {type(e).__name__}: {e}")
                return rows
            sync(device)
            first[mode] = time.perf_counter() - t0
        times: dict[str, list[float]] = {k: [] for k in steps}
        for _ in range(3 if args.quick else 8):
            for mode, step in steps.items():
                sync(device)
                t0 = time.perf_counter()
                step()
                sync(device)
                times[mode].append(time.perf_counter() - t0)
        eager, comp = (batch / statistics.median(times[k]) for k in ("eager", "compiled"))
        rows.append({"method": "bell", "batch": batch, "eager_samples_per_s": eager,
                     "compiled_samples_per_s": comp, "ratio": comp / eager,
                     "first_two_steps_s": first})  # fmt: skip
        print(f"  bell batch {batch:4d}: eager {eager:7.1f}  compiled {comp:7.1f} samples/s  "
              f"ratio {comp / eager:4.2f}x  (first two steps: {first['compiled']:.0f} s compiled, "
              f"{first['eager']:.1f} s eager)", flush=True)  # fmt: skip
    return rows


def reference_pipelines() -> dict[str, tuple[Callable, Callable] | str]:
    """(ecgssl pipeline, ecg-augmentations pipeline) for the same transforms, or why not."""
    try:
        import ecg_augmentations as ea
    except ImportError:
        return {"reference": "ecg-augmentations is not installed (pip install -r "
                             "benchmarks/requirements.txt); reference comparison skipped"}  # fmt: skip
    # The issue's pipeline, parameters matched (their TimeMask runs after the crop to 2.5 s).
    ours_issue = Compose([
        RandomResizedCrop((0.5, 1.0), seconds=2.5), TimeMask((0.04, 0.2)),
        GaussianNoise(snr_db=(15.0, 35.0)), BaselineWander((0.05, 0.5)), AmplitudeScale((0.5, 2.0)),
    ])  # fmt: skip
    theirs_issue = ea.Compose([
        ea.RandomResizedCrop(n_samples=250, scale=(0.5, 1.0)), ea.TimeMask(fs=100, duration=(0.1, 0.5)),
        ea.GaussianNoise(snr_db=(15, 35)), ea.BaselineWander(fs=100, relative=False),
        ea.AmplitudeScale(scale=(0.5, 2.0)),
    ])  # fmt: skip
    # ecgssl's default SSL view (ssl_policy) and its closest ecg-augmentations equivalent.
    theirs_default = ea.Compose([
        ea.RandomCrop(n_samples=250), ea.TimeMask(fs=100, duration=(0.0, 1.25), p=0.5),
        ea.AmplitudeScale(scale=(0.8, 1.25)), ea.GaussianNoise(snr_db=(20, 40), p=0.5),
        ea.BaselineWander(fs=100, amplitude=(0.0, 0.3), relative=False, p=0.5),
    ])  # fmt: skip
    return {
        "issue pipeline": (lambda x, g: ours_issue(x, 100.0, g), lambda x, g: theirs_issue(x, g)),
        "ssl_policy()": (
            lambda x, g: ssl_policy(2.5)(x, 100.0, g),
            lambda x, g: theirs_default(x, g),
        ),
    }


def bench_augment(args: argparse.Namespace, device: torch.device) -> list[dict]:
    x = torch.randn(256, 12, 1000, device=device)
    g = torch.Generator(device=device).manual_seed(0)
    rows: list[dict] = []
    pipes = reference_pipelines()
    if "reference" in pipes:
        print(f"  {pipes['reference']}")
        policy = ssl_policy(2.5)
        med = time_interleaved_nograd({"ecgssl": lambda: policy(x, 100.0, g)}, device, args)
        rows.append({"pipeline": "ssl_policy()", "ecgssl_samples_per_s": 256 / med["ecgssl"],
                     "reference_samples_per_s": None, "ratio": None})  # fmt: skip
        print(f"  ssl_policy() on (256, 12, 1000) at 100 Hz: {256 / med['ecgssl']:9.0f} samples/s")
        return rows
    for label, pair in pipes.items():
        assert not isinstance(pair, str)
        ours, theirs = pair
        med = time_interleaved_nograd(
            {"ecgssl": lambda o=ours: o(x, g), "ecg-augmentations": lambda t=theirs: t(x, g)},
            device,
            args,
        )
        a, b = 256 / med["ecgssl"], 256 / med["ecg-augmentations"]
        rows.append({"pipeline": label, "ecgssl_samples_per_s": a,
                     "reference_samples_per_s": b, "ratio": a / b})  # fmt: skip
        print(f"  {label:<15} ecgssl {a:9.0f}  ecg-augmentations {b:8.0f} samples/s  "
              f"ratio {a / b:5.1f}x")  # fmt: skip
    return rows


def time_interleaved_nograd(
    fns: dict[str, Callable[[], object]], device: torch.device, args: argparse.Namespace
) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in fns}
    with torch.no_grad():
        for fn in fns.values():
            fn()
        for _ in range(5 if args.quick else 15):
            for name, fn in fns.items():
                sync(device)
                t0 = time.perf_counter()
                fn()
                sync(device)
                times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def bench_encoder(args: argparse.Namespace, device: torch.device) -> list[dict]:
    rows = []
    for batch in (64, 256):
        torch.manual_seed(0)
        enc = MultiBranchEncoder(12).to(device)
        naive = NaiveMultiBranch(enc).to(device)
        x = torch.randn(batch, 12, 250, device=device)
        med = time_interleaved({"auto": enc.forward_leads, "naive": naive}, x,
                               repeats=3 if args.quick else 7, inner=1)  # fmt: skip
        impl = enc._impl_for(device)
        rows.append({"batch": batch, "impl": impl, "samples_per_s": batch / med["auto"],
                     "naive_samples_per_s": batch / med["naive"],
                     "ratio": med["naive"] / med["auto"]})  # fmt: skip
        print(f"  batch {batch:4d}: impl={impl} {batch / med['auto']:8.0f} samples/s, naive loop "
              f"{batch / med['naive']:8.0f}, ratio {med['naive'] / med['auto']:4.2f}x")  # fmt: skip
    return rows


def bench_cache(args: argparse.Namespace) -> dict:
    """Shuffled batches of 256 read from a memory-mapped (records, 12, 1000) float32 cache,
    opened as ``ecgssl.data.store`` opens its cache (``np.load(mmap_mode="c")``)."""
    n = 4096 if args.quick else 16384
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cache.npy"
        np.save(path, np.random.default_rng(0).standard_normal((n, 12, 1000), dtype=np.float32))
        signals = np.load(path, mmap_mode="c", allow_pickle=False)
        order = np.random.default_rng(1).permutation(n)
        t0 = time.perf_counter()
        total = 0
        for i in range(0, n - 255, 256):
            batch = torch.from_numpy(signals[np.sort(order[i : i + 256])])
            total += batch.shape[0]
        sec = time.perf_counter() - t0
        del signals
    print(
        f"  {total / sec:10.0f} samples/s (batches of 256, {n} records of 12 x 1000, page cache warm)"
    )
    return {"records": n, "samples_per_s": total / sec}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, 100 Hz only")
    parser.add_argument("--json", default="benchmarks/results/speed.json")
    parser.add_argument("--system-malloc", action="store_true",
                        help="leave glibc malloc as is (default: tuned, as the Pretrainer does)")  # fmt: skip
    parser.add_argument("--amp", choices=["off", "bf16", "auto"], default="off",
                        help="pretraining steps in float32 (off), under forced bfloat16 autocast "
                        "(bf16), or as PretrainConfig(amp='auto') decides on this machine")  # fmt: skip
    parser.add_argument("--methods", nargs="+", default=list(METHOD_NAMES), choices=METHOD_NAMES)
    parser.add_argument("--batch", nargs="+", type=int, default=[],
                        help="batch sizes of the pretraining step (default: 64 and 256)")  # fmt: skip
    parser.add_argument("--fs", nargs="+", type=float, default=[],
                        help="only these sampling rates (100: 2.5 s windows, 500: 10 s)")  # fmt: skip
    parser.add_argument("--checkpointing", action="store_true",
                        help="pretraining steps with activation checkpointing of the online "
                        "encoder (PretrainConfig(activation_checkpointing=True))")  # fmt: skip
    parser.add_argument("--memory", action="store_true",
                        help="pretraining rows: one step each, its time and peak memory only "
                        "(no FLOP/byte counts or roofline; for big or bf16-emulated steps)")  # fmt: skip
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["methods", "compile", "augment", "encoder", "cache"])  # fmt: skip
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    # The Pretrainer tunes glibc malloc on CPU (PretrainConfig.tune_cpu_malloc); do the same
    # so that these numbers are the ones training gets. References run in this process too.
    malloc_tuned = False if args.system_malloc else tune_cpu_allocator()
    load = os.getloadavg()[0]
    amp = resolve_amp({"off": False, "bf16": True, "auto": "auto"}[args.amp], device, log=False)
    roof = roofline(device)
    peak = roof["fp32_peak_gflop_per_s"]
    print(f"{platform.processor() or platform.machine()} | device={device} threads={args.threads} "
          f"torch={torch.__version__} | malloc tuned={malloc_tuned} | load1={load:.2f} | "
          f"matmul peak fp32 {peak:.0f}, bf16 {roof['bf16_peak_gflop_per_s']:.3g} GFLOP/s | "
          f"copy bandwidth {roof['bandwidth_gb_per_s']:.1f} GB/s\n"
          f"--amp {args.amp}: autocast {amp.label} ({amp.reason})")  # fmt: skip
    out: dict = {"device": str(device), "threads": args.threads, "torch": torch.__version__,
                 "malloc_tuned": malloc_tuned, "load1_start": load,
                 "matmul_peak_gflop_per_s": peak, **roof, "amp": args.amp,
                 "precision": amp.label, "precision_reason": amp.reason,
                 "checkpointing": args.checkpointing}  # fmt: skip
    if "methods" not in args.skip:
        print("pretraining step (forward + backward + optimiser + EMA), default encoder; "
              "%fp32/%bf16: achieved GFLOP/s over each matmul peak; GB: estimated traffic; "
              "bound: the longer of FLOPs / peak (of the step's precision) and bytes / copy "
              "bandwidth:")  # fmt: skip
        out["methods"] = bench_methods(args, device, amp)
    if "compile" not in args.skip:
        print("torch.compile (PretrainConfig.compile=True) vs eager, bell, 100 Hz x 2.5 s:")
        out["compile"] = bench_compile(args, device)
    if "augment" not in args.skip:
        print("augmentations on (256, 12, 1000) at 100 Hz -> 2.5 s views:")
        out["augment"] = bench_augment(args, device)
    if "encoder" not in args.skip:
        print("multi-branch encoder forward + backward, 12 x 250, vs naive per-lead loop:")
        out["encoder"] = bench_encoder(args, device)
    if "cache" not in args.skip:
        print("dataset cache reads:")
        out["cache"] = bench_cache(args)
    out["matmul_peak_end_gflop_per_s"] = matmul_peak(device)
    out["load1_end"] = os.getloadavg()[0]
    print(f"fp32 matmul peak at the end {out['matmul_peak_end_gflop_per_s']:.0f} GFLOP/s, "
          f"load1={out['load1_end']:.2f}")  # fmt: skip
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
