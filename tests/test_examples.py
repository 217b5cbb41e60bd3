"""Every script in examples/ runs with --fast (CI runs this test; the docs include their code)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("[0-9][0-9]_*.py"))


def test_the_documented_examples_exist():
    names = [p.name for p in EXAMPLES]
    assert names[:6] == ["01_quickstart.py", "02_custom_augmentation.py", "03_custom_encoder.py",
                         "04_custom_method.py", "05_ptbxl_linear_probe.py",
                         "06_compare_methods.py"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_with_fast(script, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, str(script), "--fast"], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path, env=env)  # fmt: skip
    assert proc.returncode == 0, (
        f"{script.name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    )
    assert proc.stdout.strip(), f"{script.name} printed nothing"
    if script.name.startswith("05_"):
        assert "give --root" in proc.stdout
