"""Fuzz the text parsers with hypothesis: WFDB header comments, CinC ``# Dx:`` codes, PTB-XL
``scp_codes`` cells and TOML config files.

Valid input must round-trip; arbitrary input must either parse or be refused with a
``ValueError`` (``UserError`` for the CLI) naming the problem — never another exception, and
never code execution.
"""

from __future__ import annotations

import os
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecgssl.cli._common import UserError, apply_config, load_toml
from ecgssl.cli.compare import add_parser
from ecgssl.data.records import header_fields, parse_dx_codes, parse_scp_codes

_EXAMPLES = int(os.environ.get("ECGSSL_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
    HealthCheck.function_scoped_fixture], derandomize="ECGSSL_FUZZ_EXAMPLES" not in os.environ,
)  # fmt: skip

codes = st.text(string.ascii_uppercase + string.digits + "_", min_size=1, max_size=8)
likelihood = st.sampled_from([0.0, 15.0, 50.0, 80.0, 100.0]) | st.floats(0, 100)


@FUZZ
@given(st.dictionaries(codes, likelihood, max_size=6))
def test_scp_codes_round_trip(d):
    assert parse_scp_codes(repr(d)) == {k: float(v) for k, v in d.items()}


@FUZZ
@given(st.text(max_size=60))
def test_scp_codes_refuse_anything_else_with_a_named_record(text):
    try:
        out = parse_scp_codes(text, "ecg_id 7")
    except ValueError as e:
        assert "ecg_id 7" in str(e)
    else:
        assert isinstance(out, dict) and all(isinstance(v, float) for v in out.values())


def test_scp_codes_never_run_code(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(ValueError, match="dict literal"):
        parse_scp_codes(f"__import__('pathlib').Path({str(marker)!r}).touch()")
    assert not marker.exists()
    with pytest.raises(ValueError, match="dict literal"):
        parse_scp_codes("{'NORM': float('nan')}")  # a call, refused before evaluation
    with pytest.raises(ValueError, match="finite"):
        parse_scp_codes("{'NORM': True}")


@FUZZ
@given(st.lists(st.text(string.digits, min_size=1, max_size=12), max_size=8),
       st.sampled_from([",", ", ", " ,", ",,"]))  # fmt: skip
def test_dx_codes_round_trip(dx, sep):
    expected = list(dict.fromkeys(dx))
    assert parse_dx_codes(sep.join(dx)) == expected


@FUZZ
@given(st.text(max_size=80))
def test_dx_codes_never_fail(text):
    out = parse_dx_codes(text)
    assert all(c and c == c.strip() and "," not in c for c in out)
    assert len(out) == len(set(out))


key_text = st.text(string.ascii_letters + string.digits + "_ -", min_size=1, max_size=12).filter(
    lambda k: k.strip() != ""
)
value_text = st.text(string.ascii_letters + string.digits + " ,.-", max_size=30)


@FUZZ
@given(st.dictionaries(key_text, value_text, max_size=5), st.sampled_from(["# ", "#", ""]))
def test_header_comments_round_trip(fields, prefix):
    lines = [f"{prefix}{k}: {v}" for k, v in fields.items()]
    parsed = header_fields(lines)
    expected: dict[str, str] = {}
    for k, v in fields.items():
        expected.setdefault(k.strip().lower(), v.strip())
    assert parsed == expected


@FUZZ
@given(st.lists(st.text(max_size=60), max_size=6))
def test_header_comments_never_fail(lines):
    out = header_fields(lines)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in out.items())


@FUZZ
@given(st.text(max_size=120))
def test_toml_files_parse_or_fail_with_one_message(tmp_path_factory, text):
    path: Path = tmp_path_factory.mktemp("toml") / "run.toml"
    path.write_text(text, encoding="utf-8")
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    compare = add_parser(sub)
    try:
        load_toml(path)
        apply_config(compare, path)
    except UserError as e:
        assert str(path) in str(e) or "unknown" in str(e) or "option" in str(e), str(e)


@FUZZ
@given(st.sampled_from(["epochs", "seeds", "methods", "lr", "protocol", "epoch"]),
       st.one_of(st.integers(-5, 10**20), st.floats(allow_nan=True), st.text(max_size=10),
                 st.booleans(), st.lists(st.integers(), max_size=3)))  # fmt: skip
def test_toml_values_are_type_checked(tmp_path_factory, key, value):
    import argparse
    import json

    path: Path = tmp_path_factory.mktemp("toml") / "run.toml"
    if isinstance(value, float) and value != value:
        literal = "nan"
    elif isinstance(value, float):
        literal = repr(value) if value not in (float("inf"), float("-inf")) else (
            "inf" if value > 0 else "-inf")  # fmt: skip
    elif isinstance(value, bool):
        literal = "true" if value else "false"
    else:
        literal = json.dumps(value)
    path.write_text(f"{key} = {literal}\n", encoding="utf-8")
    parser = argparse.ArgumentParser()
    compare = add_parser(parser.add_subparsers())
    try:
        apply_config(compare, path)
    except UserError as e:  # a bad value names the option; bad TOML names the file
        assert key in str(e) or "unknown" in str(e) or str(path) in str(e), str(e)
