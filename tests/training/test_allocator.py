"""glibc malloc tuning: applied once on Linux/glibc, never changes results."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from ecgssl.training.allocator import tune_cpu_allocator

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="mallopt tuning applies to Linux/glibc only")
def test_tuning_applies_and_is_idempotent():
    assert tune_cpu_allocator() is True
    assert tune_cpu_allocator() is True


def test_pretraining_is_identical_with_and_without_tuning():
    """Fresh processes: same seed, same weights, whatever the allocator settings."""
    code = """
import sys, torch
from ecgssl.augment import TwoViews, Compose
from ecgssl.registry import ENCODERS, METHODS, AUGMENTATIONS
from ecgssl.training import Pretrainer
torch.manual_seed(0)
x = torch.randn(16, 3, 100, generator=torch.Generator().manual_seed(0))
enc = ENCODERS.build("multibranch", n_leads=3, per_lead_dim=8, width=4)
views = TwoViews(Compose([AUGMENTATIONS.build("gaussian_noise")]))
r = Pretrainer(METHODS.build("bell", encoder=enc), views, epochs=2, batch_size=8,
               progress=False, device="cpu", tune_cpu_malloc=sys.argv[1] == "1").fit(x, fs=50.0)
print(repr(sum(float(p.double().sum()) for p in r.method.parameters())))
"""
    out = [
        subprocess.run([sys.executable, "-c", code, flag], capture_output=True, text=True,
                       check=True).stdout.strip()
        for flag in ("0", "1")
    ]  # fmt: skip
    assert out[0] == out[1] and out[0]
