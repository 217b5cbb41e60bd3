"""--amp and --activation-checkpointing on the command line: checked before any data are
loaded, and passed on as the library's settings."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ecgssl.cli import main
from ecgssl.cli._common import amp_setting


class Loaded(Exception):
    """Raised by the stand-in loader: the options were accepted."""


def no_data(*args, **kwargs):
    raise Loaded


@pytest.fixture
def captured(monkeypatch):
    """Stand-ins for the data and the work: the settings each command passed on."""
    import ecgssl
    import ecgssl.cli.embed as cli_embed
    import ecgssl.cli.evaluate as cli_evaluate
    import ecgssl.cli.pretrain as cli_pretrain

    seen: dict = {}
    dataset = SimpleNamespace(summary=lambda: "tiny", signals=None, leads=[], fs=100.0,
                              labels=None, split=None, n_leads=12, name="tiny")  # fmt: skip

    def run_one(args, dataset, encoder, overrides, *rest):
        seen["pretrain"] = overrides
        seen["probe_amp"] = amp_setting(args.amp)
        return []

    def evaluate(*args, **kwargs):
        seen["evaluate"] = kwargs
        return SimpleNamespace(metrics={"macro_auroc": 0.5})

    def embed(*args, **kwargs):
        seen["embed"] = kwargs
        raise Loaded

    for module in (cli_pretrain, cli_evaluate, cli_embed):
        monkeypatch.setattr(module, "load_cli_dataset", lambda *a, **k: dataset)
    monkeypatch.setattr(cli_pretrain, "_run_one", run_one)
    monkeypatch.setattr(ecgssl, "evaluate", evaluate)
    monkeypatch.setattr(ecgssl, "embed", embed)
    monkeypatch.setattr("ecgssl.training.encoder_files.read_encoder", lambda p: (object(), {}))
    return seen


@pytest.mark.parametrize("choice, value", [("auto", "auto"), ("on", True), ("off", False)])
def test_pretrain_passes_amp_and_checkpointing(captured, tmp_path, choice, value):
    out = str(tmp_path / "run")
    assert main(["pretrain", "--amp", choice, "--activation-checkpointing", "--no-progress",
                 "--out", out]) == 0  # fmt: skip
    assert captured["pretrain"]["amp"] == value
    assert captured["pretrain"]["activation_checkpointing"] is True
    assert captured["probe_amp"] == value


def test_pretrain_defaults_leave_the_config_alone(captured, tmp_path):
    assert main(["pretrain", "--no-progress", "--out", str(tmp_path / "run")]) == 0
    assert "amp" not in captured["pretrain"]
    assert "activation_checkpointing" not in captured["pretrain"]


def test_pretrain_amp_from_a_toml_config(captured, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('amp = "off"\nactivation-checkpointing = true\n')
    assert main(["pretrain", "--config", str(config), "--no-progress", "--out",
                 str(tmp_path / "run")]) == 0  # fmt: skip
    assert captured["pretrain"]["amp"] is False
    assert captured["pretrain"]["activation_checkpointing"] is True
    config.write_text('amp = "bf16"\n')
    assert main(["pretrain", "--config", str(config)]) == 2


@pytest.mark.parametrize("command", [["pretrain"], ["evaluate", "enc"], ["embed", "enc",
                                     "--out", "f.npy"], ["compare"]])  # fmt: skip
def test_bad_amp_fails_before_loading_data(command, monkeypatch, capsys):
    import ecgssl.cli.compare as cli_compare
    import ecgssl.cli.embed as cli_embed
    import ecgssl.cli.evaluate as cli_evaluate
    import ecgssl.cli.pretrain as cli_pretrain

    for module in (cli_pretrain, cli_evaluate, cli_embed, cli_compare):
        monkeypatch.setattr(module, "load_cli_dataset", no_data)
    assert main([*command, "--amp", "bf16"]) == 2
    err = capsys.readouterr().err
    assert "--amp" in err and "invalid choice" in err


def test_bad_checkpointing_setting_fails_before_loading_data(monkeypatch, capsys):
    import ecgssl.cli.pretrain as cli_pretrain

    monkeypatch.setattr(cli_pretrain, "load_cli_dataset", no_data)
    assert main(["pretrain", "--set", "activation_checkpointing=3"]) == 2
    assert "activation_checkpointing must be True or False" in capsys.readouterr().err


def test_evaluate_and_embed_pass_amp(captured, tmp_path):
    assert main(["evaluate", "enc", "--amp", "off", "--no-progress"]) == 0
    assert captured["evaluate"]["amp"] is False
    with pytest.raises(Loaded):
        main(["embed", "enc", "--amp", "on", "--out", str(tmp_path / "f.npy")])
    assert captured["embed"]["amp"] is True


@pytest.mark.parametrize("choice, value", [(None, "auto"), ("off", False), ("on", True)])
def test_compare_passes_amp_to_its_config(monkeypatch, choice, value):
    import ecgssl.cli.compare as cli_compare
    import ecgssl.compare

    seen = {}
    real = ecgssl.compare.CompareConfig

    def config(**kwargs):
        seen["config"] = real(**kwargs)
        return seen["config"]

    monkeypatch.setattr(ecgssl.compare, "CompareConfig", config)
    monkeypatch.setattr(cli_compare, "load_cli_dataset", no_data)
    with pytest.raises(Loaded):
        main(["compare", *(["--amp", choice] if choice else []), "--no-progress"])
    assert seen["config"].amp == value


def test_compare_config_rejects_a_bad_amp():
    from ecgssl.compare import CompareConfig

    with pytest.raises(ValueError, match="amp"):
        CompareConfig(amp="bf16")
