"""Shared pieces of the command line: one-line user errors, TOML configs, dataset options."""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from ecgssl.errors import ECGSSLError

__all__ = [
    "AMP_CHOICES",
    "DeprecatedAlias",
    "Parser",
    "UserError",
    "add_amp_arg",
    "add_dataset_args",
    "amp_setting",
    "apply_config",
    "dataset_kwargs",
    "dataset_spec",
    "fractions",
    "load_cli_dataset",
    "load_spec_dataset",
    "load_toml",
    "parse_sets",
    "parse_spec",
    "seeds",
]


class UserError(ECGSSLError):
    """An error caused by the user's input: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors become :class:`UserError` (one line, exit 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see `{self.prog} --help`)")


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_sets(items: Sequence[str]) -> dict[str, Any]:
    """``["gamma=0.5", "shared_weights=true"]`` -> ``{"gamma": 0.5, "shared_weights": True}``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"expected KEY=VALUE, got {item!r}")
        out[key.strip()] = _parse_value(value)
    return out


def parse_spec(text: str | None, option: str) -> Any:
    """A registry name, or a JSON ``{"name": ..., **kwargs}`` spec."""
    if text is None or not text.lstrip().startswith("{"):
        return text
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{option} is not valid JSON: {e}") from e
    if not isinstance(spec, dict) or "name" not in spec:
        raise UserError(f'{option} must be a name or a JSON object with a "name", got {text!r}')
    return spec


def fractions(text: str, option: str = "--label-fractions") -> list[float]:
    """Comma-separated label fractions in (0, 1]."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as e:
        raise UserError(f"{option} must be comma-separated numbers, got {text!r}") from e
    if not values or any(not 0 < v <= 1 for v in values):
        raise UserError(f"label fractions must lie in (0, 1], got {text!r}")
    return values


def seeds(text: str | int, option: str = "--seeds") -> list[int]:
    """Comma-separated integer seeds (``"0,1,2"``); a single integer is one seed."""
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError as e:
        raise UserError(f"{option} must be comma-separated integers, got {text!r}") from e
    if not values:
        raise UserError(f"{option} must name at least one seed, got {text!r}")
    return values


class DeprecatedAlias(argparse.Action):
    """An old option name kept for one release: warns on stderr and sets the new option.

    ``parser.add_argument("--fractions", dest="label_fractions", action=DeprecatedAlias,
    new="--label-fractions")``; with ``append=True`` each use appends (``--set`` ->
    ``--dataset-option``).
    """

    def __init__(self, option_strings: Sequence[str], dest: str, new: str,
                 append: bool = False, **kwargs: Any) -> None:  # fmt: skip
        kwargs.setdefault("help", argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)
        self.new, self.append = new, append

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:  # fmt: skip
        print(f"ecgssl: warning: {option_string} is deprecated and will be removed in the next "
              f"release; use {self.new}", file=sys.stderr)  # fmt: skip
        if self.append:
            setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), values])
        else:
            setattr(namespace, self.dest, values)


# -- mixed precision -------------------------------------------------------------------------
#: ``--amp`` values and the ``amp`` setting (:func:`ecgssl.precision.resolve_amp`) of each.
AMP_CHOICES: dict[str, bool | str] = {"auto": "auto", "on": True, "off": False}


def add_amp_arg(p: argparse.ArgumentParser, what: str) -> None:
    """``--amp {auto,on,off}`` (default ``None``: the library's default, ``auto``); checked by
    argparse, so a bad value fails before any data are loaded."""
    p.add_argument("--amp", choices=list(AMP_CHOICES), default=None,
                   help=f"mixed precision of {what}: auto (default; bfloat16/float16 autocast "
                   "on CUDA, bfloat16 on CPUs with fast bfloat16 units, else float32), on "
                   "(force autocast; bfloat16 on CPU, slow without AVX-512 BF16/AMX), off "
                   "(float32)")  # fmt: skip


def amp_setting(choice: str | None) -> bool | str:
    """``--amp``'s value as an ``amp`` setting (``None`` -> ``"auto"``)."""
    if choice is None:
        return "auto"
    if choice not in AMP_CHOICES:
        raise UserError(f"--amp must be one of {', '.join(AMP_CHOICES)}, got {choice!r}")
    return AMP_CHOICES[choice]


# -- TOML configs ----------------------------------------------------------------------------
def load_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file with ``tomllib`` (Python >= 3.11) or ``tomli`` (a dependency on 3.10)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        try:
            import tomli as tomllib
        except ImportError:  # installed without its dependencies
            raise UserError(
                "--config on Python 3.10 needs the tomli package (an ecgssl dependency there): "
                "pip install tomli"
            ) from None
    if not path.is_file():
        raise UserError(f"config file {path} does not exist")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"config file {path} is not valid TOML: {e}") from e


def _to_default(action: argparse.Action, key: str, value: Any, source: Path) -> Any:
    """Turn a TOML value into what the flag would have produced (same checks, same types)."""
    where = f"{source}: {key}"
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            raise UserError(f"{where} must be true or false, got {value!r}")
        return action.const if value else action.default
    if isinstance(action, argparse._AppendAction):
        if isinstance(value, dict):  # [set] table: KEY = VALUE
            return [f"{k}={json.dumps(v)}" for k, v in value.items()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise UserError(f"{where} must be a table or a list of strings, got {value!r}")
    if action.const is not None and value is True:  # optional-argument flags such as --plot
        return action.const
    if isinstance(value, dict) and action.type is None:  # a spec such as encoder = {name=...}
        return json.dumps(value)
    if isinstance(value, (dict, bool)):
        raise UserError(f"{where} must be a {'number' if action.type else 'string'}, got {value!r}")
    text = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
    if action.choices is not None and text not in action.choices:
        raise UserError(f"{where} must be one of {sorted(action.choices)}, got {text!r}")
    if action.type is None:
        return text
    try:
        return action.type(text)  # type: ignore[operator]
    except (TypeError, ValueError) as e:
        raise UserError(f"{where}: invalid value {value!r} ({e})") from e


def apply_config(parser: argparse.ArgumentParser, path: Path) -> None:
    """Make the options in the TOML file ``path`` the defaults of ``parser``.

    Keys are the long option names without ``--`` (``batch-size`` or ``batch_size``); a
    ``[set]`` table holds ``--set KEY=VALUE`` options. Flags given on the command line
    override the file. Relative paths are relative to the working directory, as on the
    command line.
    """
    values = load_toml(path)
    options = {
        s[2:]: a
        for a in parser._actions
        for s in a.option_strings
        if s.startswith("--") and s not in ("--help", "--config")
    }
    defaults: dict[str, Any] = {}
    for key, value in values.items():
        action = options.get(key.replace("_", "-"))
        if action is None:
            import difflib

            close = difflib.get_close_matches(key.replace("_", "-"), list(options), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UserError(
                f"{path}: unknown option {key!r} for `{parser.prog}`{hint} "
                f"(valid: {', '.join(sorted(options))})"
            )
        defaults[action.dest] = _to_default(action, key, value, path)
    parser.set_defaults(**defaults)


# -- datasets --------------------------------------------------------------------------------
def add_dataset_args(p: argparse.ArgumentParser, npz: bool = False) -> None:
    """``--dataset``, ``--root``, ``--task``, ``--n-records`` (and ``--npz``)."""
    p.add_argument("--dataset", default="synthetic",
                   help="registered dataset (default synthetic), or a JSON spec such as "
                   '\'{"name": "combined", "datasets": [{"name": "npz", "root": "a.npz"}, '
                   '{"name": "hce", "root": "hce"}]}\'')  # fmt: skip
    p.add_argument("--root", type=Path, default=None,
                   help="data folder (or .npz file) of a real dataset (ptbxl, ludb, hce, npz...)")  # fmt: skip
    p.add_argument("--task", default=None, help="label task of the dataset (e.g. ptbxl: rhythm)")
    p.add_argument("--n-records", type=int, default=None, help="synthetic dataset size")
    p.add_argument("--dataset-option", action="append", default=[], metavar="KEY=VALUE",
                   help="any other loader option, e.g. --dataset-option fs=100 "
                   "--dataset-option min_count=5")  # fmt: skip
    if npz:
        p.add_argument("--npz", type=Path, default=None,
                       help="arrays instead of a dataset: .npz with signals, fs, labels[, split]")  # fmt: skip


def dataset_spec(text: str) -> tuple[str, dict[str, Any]]:
    """``--dataset``'s loader name and the options of a JSON spec (none for a plain name)."""
    spec = parse_spec(text, "--dataset")
    if isinstance(spec, dict):
        return str(spec["name"]), {k: v for k, v in spec.items() if k != "name"}
    return str(spec), {}


def dataset_kwargs(
    args: argparse.Namespace,
    name: str,
    options: Sequence[str],
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Loader keyword arguments from ``base`` (a JSON spec's options), ``--root``,
    ``--task``, ``--n-records`` and ``KEY=VALUE`` options (JSON values; later ones win),
    checked against the loader's signature."""
    from ecgssl.registry import DATASETS

    kwargs: dict[str, Any] = {**(base or {}), **parse_sets(options)}
    if args.root is not None:
        kwargs["root"] = args.root.expanduser()
    if args.task is not None:
        kwargs["task"] = args.task
    if args.n_records is not None:
        kwargs["n_records"] = args.n_records
    params = inspect.signature(DATASETS.get(name)).parameters
    unknown = sorted(k for k in kwargs if k not in params and k != "root")
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        raise UserError(
            f"dataset {name!r} has no option(s) {unknown}; its options: "
            f"{', '.join(k for k in params if k != 'root')}"
        )
    return kwargs


def load_cli_dataset(args: argparse.Namespace, progress: bool = True) -> Any:
    """The dataset named by :func:`add_dataset_args`'s options."""
    import numpy as np

    import ecgssl
    from ecgssl.registry import DATASETS

    npz = getattr(args, "npz", None)
    if npz is not None:
        if not npz.exists():
            raise UserError(f"--npz file {npz} does not exist")
        with np.load(npz, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        missing = {"signals", "fs"} - set(arrays)
        if missing:
            raise UserError(f"{npz} lacks array(s) {sorted(missing)}")
        return ecgssl.load_dataset(
            "arrays", signals=arrays["signals"], fs=float(arrays["fs"]),
            labels=arrays.get("labels"), split=arrays.get("split"), name=npz.stem,
        )  # fmt: skip
    name, base = dataset_spec(args.dataset)
    kwargs = dataset_kwargs(args, name, getattr(args, "dataset_option", None) or [], base)
    if "progress" in inspect.signature(DATASETS.get(name)).parameters:
        kwargs.setdefault("progress", progress)
    return ecgssl.load_dataset(name, **kwargs)


def load_spec_dataset(text: str, option: str, progress: bool = True) -> Any:
    """The dataset named (or JSON-specified) by an option such as ``--pretrain-dataset``."""
    import ecgssl
    from ecgssl.registry import DATASETS

    spec = parse_spec(text, option)
    name, kwargs = (
        (spec["name"], {k: v for k, v in spec.items() if k != "name"})
        if isinstance(spec, dict)
        else (spec, {})
    )
    if "progress" in inspect.signature(DATASETS.get(name)).parameters:
        kwargs.setdefault("progress", progress)
    return ecgssl.load_dataset(name, **kwargs)
