"""One CLI vocabulary: renamed options keep their old names as deprecated aliases, --version,
and only ecgssl's own errors become one-line messages (a bug shows its traceback)."""

from __future__ import annotations

import pytest

import ecgssl
from ecgssl.cli import build_parser, main


def _parse(argv: list[str]):
    parser, _ = build_parser()
    return parser.parse_args(argv)


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"ecgssl {ecgssl.__version__}"


def test_compare_label_fractions_and_deprecated_fractions(capsys):
    assert _parse(["compare", "--label-fractions", "0.5"]).label_fractions == "0.5"
    args = _parse(["compare", "--fractions", "0.25"])
    assert args.label_fractions == "0.25"
    assert "--fractions is deprecated" in capsys.readouterr().err
    # pretrain, evaluate and compare spell it the same way
    assert _parse(["pretrain", "--label-fractions", "0.1"]).label_fractions == "0.1"
    assert _parse(["evaluate", "enc", "--label-fractions", "0.1"]).label_fractions == "0.1"


def test_datasets_prepare_dataset_option_and_deprecated_set(capsys):
    args = _parse(["datasets", "prepare", "synthetic", "--dataset-option", "n_records=10"])
    assert args.dataset_option == ["n_records=10"]
    args = _parse(["datasets", "prepare", "synthetic", "--set", "a=1", "--dataset-option", "b=2"])
    assert sorted(args.dataset_option) == ["a=1", "b=2"]
    assert "--set is deprecated" in capsys.readouterr().err


def test_seeds_everywhere():
    assert _parse(["compare", "--seeds", "0,1"]).seeds == "0,1"
    assert _parse(["pretrain", "--seeds", "3"]).seeds == "3"
    assert _parse(["evaluate", "enc", "--seeds", "0,1,2"]).seeds == "0,1,2"


def test_compare_uses_the_recipe_budget_by_default():
    args = _parse(["compare"])
    assert args.epochs is None and args.steps is None
    assert args.batch_size is None and args.lr is None
    from ecgssl.compare import CompareConfig
    from ecgssl.recipes import SHARED_BUDGET

    budget = CompareConfig().budget(1282)
    assert budget["batch_size"] == SHARED_BUDGET["batch_size"]
    assert budget["steps"] == SHARED_BUDGET["steps"]
    assert CompareConfig().budget(100)["steps"] == 50  # capped at 50 epochs of 1 batch
    assert CompareConfig(epochs=2, batch_size=10).budget(100)["steps"] == 20


def test_ecgssl_errors_are_one_line(capsys):
    code = main(["pretrain", "--method", "no_such_method", "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("ecgssl: error:") and "Traceback" not in err


def test_a_bug_shows_its_traceback(monkeypatch):
    """A plain ValueError from inside a command is a bug, not a user error: it propagates."""

    def broken(args):
        raise ValueError("internal invariant violated")

    real_build = build_parser

    def patched():
        p, subs = real_build()
        subs["list"].set_defaults(handler=broken)
        return p, subs

    monkeypatch.setattr("ecgssl.cli.build_parser", patched)
    with pytest.raises(ValueError, match="internal invariant"):
        main(["list", "methods"])


def test_library_errors_are_ecgssl_errors_and_builtin_errors():
    with pytest.raises(ecgssl.ECGSSLError):
        ecgssl.get_recipe("no_such_method")
    with pytest.raises(KeyError):
        ecgssl.get_recipe("no_such_method")
    with pytest.raises(ecgssl.InvalidValueError):
        ecgssl.Recipe("x", steps=0)
    with pytest.raises(ValueError):
        ecgssl.Recipe("x", steps=0)


def _labeled_archive(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    archive = tmp_path / "labeled.npz"
    n = 60
    y = (rng.random((n, 2)) < 0.5).astype(np.int64)
    y[:4] = [[0, 0], [1, 1], [0, 1], [1, 0]]
    split = np.array(["train"] * 36 + ["val"] * 12 + ["test"] * 12)
    np.savez(archive, X=rng.normal(size=(n, 3, 200)).astype(np.float32), fs=50.0,
             leads=np.array(["I", "II", "V1"]), y=y, classes=np.array(["a", "b"]),
             split=split)  # fmt: skip
    return archive


def test_pretrain_several_seeds_and_resume(tmp_path, capsys):
    """--seeds 0,1 pretrains once per seed into OUT/seedN and prints the mean over seeds;
    --resume continues from the newest checkpoint in OUT/checkpoints."""
    import json

    archive = _labeled_archive(tmp_path)
    encoder = json.dumps({"name": "multibranch", "width": 4, "per_lead_dim": 8})
    common = ["pretrain", "--dataset", "npz", "--root", str(archive), "--batch-size", "8",
              "--encoder", encoder, "--device", "cpu", "--window", "2", "--no-progress",
              "--label-fractions", "1.0"]  # fmt: skip
    assert main([*common, "--steps", "2", "--seeds", "0,1", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "Mean over seeds [0, 1]" in out
    for seed in (0, 1):
        saved = json.loads((tmp_path / "r" / f"seed{seed}" / "results.json").read_text())
        assert saved["seed"] == seed
        assert (tmp_path / "r" / f"seed{seed}" / "encoder" / "model.safetensors").is_file()
    # --resume picks the newest checkpoint in OUT/checkpoints: a finished run stays finished
    assert main([*common, "--steps", "2", "--seeds", "0", "--out", str(tmp_path / "r" / "seed0"),
                 "--resume"]) == 0  # fmt: skip
    assert "for 2 steps" in capsys.readouterr().out
    assert main([*common, "--steps", "2", "--resume"]) == 2  # nowhere to look
    assert "--resume without a checkpoint needs --out" in capsys.readouterr().err


def test_pretrain_rejects_bad_options_before_loading_data(tmp_path, capsys, monkeypatch):
    import ecgssl.cli.pretrain as cli_pretrain

    def no_load(*a, **k):
        raise AssertionError("the dataset was loaded before the options were checked")

    monkeypatch.setattr(cli_pretrain, "load_cli_dataset", no_load)
    for bad in (["--epochs", "-1"], ["--batch-size", "0"], ["--lr", "-1"], ["--window", "0"]):
        assert main(["pretrain", *bad, "--no-progress"]) == 2, bad
        assert "ecgssl: error:" in capsys.readouterr().err
