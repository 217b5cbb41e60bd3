"""glibc malloc tuning: applied once on Linux/glibc, never changes results."""

from __future__ import annotations

import os
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


def _run(code: str, **env: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


# Records every shared library ctypes opens: mallopt needs libc opened through ctypes.
_WATCH = """
import sys
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "ctypes.dlopen" else None)
"""


def test_importing_ecgssl_leaves_malloc_alone():
    out = _run(_WATCH + """
import ecgssl
from ecgssl.training import allocator
print(allocator._tuned, [n for n in opened if "libc.so" in n])
""")  # fmt: skip
    assert out.split() == ["None", "[]"]


@pytest.mark.skipif(not GLIBC, reason="mallopt tuning applies to Linux/glibc only")
def test_env_var_disables_and_tuning_is_logged_once():
    out = _run(_WATCH + """
import logging, os
records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append(record)
logging.getLogger("ecgssl").addHandler(Keep())
logging.getLogger("ecgssl").setLevel(logging.INFO)
from ecgssl.training.allocator import ENV_VAR, tune_cpu_allocator
os.environ[ENV_VAR] = "0"
print(tune_cpu_allocator(), len([n for n in opened if "libc.so" in n]))
del os.environ[ENV_VAR]
print(tune_cpu_allocator(), tune_cpu_allocator(), len(records), records[0].levelname)
print(records[0].getMessage())
""", ECGSSL_TUNE_MALLOC="1")  # fmt: skip
    lines = out.splitlines()
    assert lines[0] == "False 0"  # disabled: libc never even opened
    assert lines[1] == "True True 1 INFO"  # applied once, logged once
    assert "M_MMAP_MAX" in lines[2] and "ECGSSL_TUNE_MALLOC=0" in lines[2]
