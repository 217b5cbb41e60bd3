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
    assert names[:7] == ["01_quickstart.py", "02_custom_augmentation.py", "03_custom_encoder.py",
                         "04_custom_method.py", "05_ptbxl_linear_probe.py",
                         "06_compare_methods.py", "07_bring_your_own_model.py"]  # fmt: skip


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


def test_gallery_and_docs_name_every_augmentation():
    """docs/augmentations.md and the gallery script say what each augmentation may invalidate."""
    import importlib.util

    import ecgssl

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location(
        "augmentation_gallery", root / "docs" / "scripts" / "augmentation_gallery.py"
    )
    assert spec is not None and spec.loader is not None
    gallery = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gallery)
    page = (root / "docs" / "augmentations.md").read_text()
    names = set(ecgssl.list_augmentations()) - gallery.COMBINATORS
    missing = sorted(n for n in names if n not in gallery.RISKS or f"| `{n}` |" not in page)
    assert not missing, (
        f"document {missing} in docs/augmentations.md and RISKS of "
        "docs/scripts/augmentation_gallery.py, then re-run the script"
    )


def test_docs_build_strict(tmp_path):
    """`mkdocs build --strict` (needs the [docs] extra, which the offline index lacks)."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("material")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d",
                           str(tmp_path / "site")], capture_output=True, text=True, cwd=root,
                          timeout=300, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "site" / "api" / "index.html").exists()
