"""The ``ecgssl`` command line: the README's main job end to end (small), listing, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ecgssl.cli import main


def test_list(capsys):
    assert main(["list", "methods"]) == 0
    assert {"bell", "byol", "simclr"} <= set(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["pretrain", "--method", "bel", "--no-progress"], "bell"),
        (["pretrain", "--label-fractions", "0,2", "--no-progress"], "label fractions"),
        (["pretrain", "--set", "gamma", "--no-progress"], "KEY=VALUE"),
        (["compare", "--dataset-option", "bogus=1", "--no-progress"], "has no option(s) ['bogus']"),
        (["compare", "--dataset-option", "fs", "--no-progress"], "KEY=VALUE"),
    ],
)
def test_user_errors_exit_2_with_one_line(argv, match, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ecgssl: error:") and match in err and "\n" not in err


def test_debug_shows_the_traceback():
    with pytest.raises(KeyError):
        main(["--debug", "pretrain", "--method", "bel", "--no-progress"])


@pytest.mark.slow
def test_pretrain_prints_both_aurocs(tmp_path, monkeypatch):
    """README command (a), shrunk: pretrain BELL on the built-in set, print BELL vs random."""
    monkeypatch.setenv("ECGSSL_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "ecgssl", "pretrain", "--method", "bell", "--n-records", "60",
         "--epochs", "1", "--batch-size", "16", "--no-progress", "--out", str(out),
         "--label-fractions", "0.1,1.0"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Linear-probe macro AUROC" in proc.stdout
    assert "random init" in proc.stdout
    summary = json.loads((out / "results.json").read_text())
    assert [r["label_fraction"] for r in summary["linear_probe"]] == ["10%", "100%"]
    for row in summary["linear_probe"]:
        for key in ("ssl", "random_init"):
            m = row[key]
            assert m["macro_auroc_ci_low"] <= m["macro_auroc"] <= m["macro_auroc_ci_high"]
    assert (out / "encoder" / "config.json").exists()
    assert (out / "encoder" / "model.safetensors").exists()
    assert list((out / "checkpoints").glob("*.pt"))
