"""Shared test setup: runs that `ecgssl pretrain` saves by default go to a temporary folder."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _runs_in_tmp(tmp_path_factory, monkeypatch):
    """`ecgssl pretrain` without --out saves to $ECGSSL_RUNS_DIR (default ./runs): keep test
    runs out of the working tree."""
    monkeypatch.setenv("ECGSSL_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))
