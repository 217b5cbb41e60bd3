"""Shared test setup: runs that `ecgssl pretrain` saves by default go to a temporary folder, and
amp="auto" never turns bfloat16 autocast on (results must not depend on the CPU)."""

from __future__ import annotations

import pytest
import torch

from ecgssl.precision import CpuBf16Status


@pytest.fixture(autouse=True)
def _runs_in_tmp(tmp_path_factory, monkeypatch):
    """`ecgssl pretrain` without --out saves to $ECGSSL_RUNS_DIR (default ./runs): keep test
    runs out of the working tree."""
    monkeypatch.setenv("ECGSSL_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))


@pytest.fixture(autouse=True)
def _cpu_bf16_off(monkeypatch):
    """amp="auto" (the default) turns bfloat16 autocast on for CPUs with AMX/AVX-512 BF16:
    keep it off so that results do not depend on the test machine's CPU. Tests of the switch
    (tests/test_precision.py, tests/training/test_amp.py) patch it back or use the real one."""
    monkeypatch.setattr(
        "ecgssl.precision.cpu_bf16_status",
        lambda: CpuBf16Status(False, "pinned off by tests/conftest.py"),
    )


@pytest.fixture
def one_thread():
    """Run the test single-threaded (fast and deterministic on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
