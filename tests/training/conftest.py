"""Training tests run single-threaded: fast and deterministic on a busy 2-core machine."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every training test single-threaded (tests/conftest.py's ``one_thread``)."""
