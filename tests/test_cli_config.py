"""``--config run.toml``: the same run as the flags, flags win, bad files fail in one line."""

from __future__ import annotations

import json

import pytest

from ecgssl.cli import build_parser, main
from ecgssl.cli._common import apply_config

FLAGS = ["--method", "simclr", "--n-records", "40", "--epochs", "1", "--batch-size", "16",
         "--encoder", "resnet1d", "--lr", "0.002", "--label-fractions", "1.0", "--no-baseline",
         "--no-progress", "--set", "temperature=0.2", "--set", "proj_dim=32"]  # fmt: skip
TOML = """
method = "simclr"
n_records = 40
epochs = 1
batch-size = 16
encoder = "resnet1d"
lr = 0.002
label-fractions = [1.0]
no-baseline = true
no-progress = true
[set]
temperature = 0.2
proj_dim = 32
"""


def _parse(argv: list[str]):
    parser, subs = build_parser()
    args = parser.parse_args(argv)
    if args.config is not None:
        apply_config(subs[args.command_path], args.config)
        args = parser.parse_args(argv)
    return args


def test_config_parses_to_the_same_options_as_the_flags(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(TOML)
    from_flags = vars(_parse(["pretrain", *FLAGS]))
    from_file = vars(_parse(["pretrain", "--config", str(cfg)]))
    from_flags.pop("config"), from_file.pop("config")
    assert from_file == from_flags


def test_flags_override_the_file(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(TOML)
    args = _parse(["pretrain", "--config", str(cfg), "--epochs", "3", "--set", "proj_dim=8"])
    assert args.epochs == 3 and args.method == "simclr"
    assert args.set[-1] == "proj_dim=8"  # applied after the file's, so it wins


def test_toml_run_equals_flag_run(tmp_path):
    """The same tiny pretraining + probe from flags and from a TOML file: identical results."""
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        TOML.replace("no-progress = true", f'no-progress = true\nout = "{tmp_path / "b"}"')
    )
    assert main(["pretrain", *FLAGS, "--out", str(tmp_path / "a")]) == 0
    assert main(["pretrain", "--config", str(cfg)]) == 0
    a = json.loads((tmp_path / "a" / "results.json").read_text())
    b = json.loads((tmp_path / "b" / "results.json").read_text())
    for row in (*a["history"], *b["history"]):
        row.pop("seconds"), row.pop("samples_per_s")
    assert a == b
    assert a["method"] == "simclr" and len(a["history"]) == 1


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("epochz = 3", "unknown option 'epochz'.*did you mean epochs"),
        ("epochs = 'many'", "epochs: invalid value"),
        ("epochs = 2.5", "epochs: invalid value"),
        ("no-baseline = 'yes'", "must be true or false"),
        ("set = 3", "must be a table"),
        ("method = [", "not valid TOML"),
    ],
)
def test_bad_config_files_give_one_line_errors(tmp_path, capsys, text, match):
    import re

    cfg = tmp_path / "bad.toml"
    cfg.write_text(text + "\n")
    assert main(["pretrain", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ecgssl: error:") and "\n" not in err and re.search(match, err), err


def test_missing_config_file(tmp_path, capsys):
    assert main(["evaluate", "x.pt", "--config", str(tmp_path / "none.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_encoder_spec_from_a_toml_table_or_json_flag(tmp_path, capsys):
    from ecgssl.cli._common import parse_spec

    cfg = tmp_path / "enc.toml"
    cfg.write_text('encoder = {name = "resnet1d", width = 8}\n')
    from_file = _parse(["pretrain", "--config", str(cfg)]).encoder
    from_flag = _parse(["pretrain", "--encoder", '{"name": "resnet1d", "width": 8}']).encoder
    assert parse_spec(from_file, "--encoder") == parse_spec(from_flag, "--encoder")
    assert parse_spec(from_file, "--encoder") == {"name": "resnet1d", "width": 8}
    assert parse_spec("resnet1d", "--encoder") == "resnet1d"
    assert main(["pretrain", "--encoder", "{oops", "--no-progress"]) == 2
    assert "not valid JSON" in capsys.readouterr().err
