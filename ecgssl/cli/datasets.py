"""``ecgssl datasets list`` / ``ecgssl datasets prepare``: what can be loaded, and its cache."""

from __future__ import annotations

import argparse
import inspect
import time
from pathlib import Path
from typing import Any

from ecgssl.cli._common import DeprecatedAlias, dataset_kwargs

__all__ = ["add_parsers"]

EPILOG_PREPARE = """examples:
  ecgssl datasets prepare synthetic                         # simulate and cache 1000 ECGs
  ecgssl datasets prepare ludb --root ~/data/ludb
  ecgssl datasets prepare ptbxl --root ~/data/ptb-xl-1.0.3 --dataset-option fs=100 --dataset-option task='"rhythm"'
The preprocessed signals are cached ($ECGSSL_CACHE_DIR, else ~/.cache/ecgssl): later loads
with the same settings take seconds. Nothing is ever downloaded (see docs/datasets.md).
"""


def add_parsers(sub: Any) -> dict[str, argparse.ArgumentParser]:
    d = sub.add_parser(
        "datasets",
        help="list the dataset loaders, or build a dataset's cache",
        description="Dataset loaders and their cache.",
        epilog="examples:\n  ecgssl datasets list\n  ecgssl datasets prepare ludb --root ~/data/ludb\n",
    )
    dsub = d.add_subparsers(dest="datasets_command", required=True, metavar="{list,prepare}")
    ls = dsub.add_parser(
        "list",
        help="registered dataset loaders, one line each",
        description="Registered dataset loaders with a one-line description.",
        epilog="example:\n  ecgssl datasets list\n",
    )
    ls.add_argument("--config", type=Path, default=None, help="TOML file of options")
    ls.set_defaults(handler=run_list, command_path="datasets list")
    p = dsub.add_parser(
        "prepare",
        help="load a dataset once to build its cache",
        description="Read a dataset from disk (or simulate the built-in one), preprocess it "
        "and write the cache.",
        epilog=EPILOG_PREPARE,
    )
    p.add_argument("name", help="dataset name (see `ecgssl datasets list`)")
    p.add_argument("--config", type=Path, default=None, help="TOML file of options")
    p.add_argument("--root", type=Path, default=None, help="data folder of a real dataset")
    p.add_argument("--task", default=None, help="label task (e.g. ptbxl: rhythm)")
    p.add_argument("--n-records", type=int, default=None, help="synthetic dataset size")
    p.add_argument("--dataset-option", action="append", default=[], metavar="KEY=VALUE",
                   help="loader option, e.g. --dataset-option fs=100 (JSON values)")  # fmt: skip
    p.add_argument("--set", dest="dataset_option", action=DeprecatedAlias, append=True,
                   new="--dataset-option")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(handler=run_prepare, command_path="datasets prepare")
    return {"datasets list": ls, "datasets prepare": p}


def _describe(factory: Any) -> str:
    doc = inspect.getdoc(factory) or ""
    return doc.split("\n\n")[0].replace("\n", " ").strip()


def run_list(args: argparse.Namespace) -> int:
    from ecgssl.registry import DATASETS

    names = DATASETS.list()
    width = max(len(n) for n in names)
    for name in names:
        aliases = DATASETS.aliases(name)
        alias = f" (also: {', '.join(aliases)})" if aliases else ""
        print(f"{name:<{width}}  {_describe(DATASETS.get(name))}{alias}")
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    import ecgssl
    from ecgssl.data.cache import cache_dir
    from ecgssl.registry import DATASETS

    kwargs = dataset_kwargs(args, args.name, args.dataset_option)
    if "progress" in inspect.signature(DATASETS.get(args.name)).parameters:
        kwargs.setdefault("progress", not args.no_progress)
    t0 = time.perf_counter()
    ds = ecgssl.load_dataset(args.name, **kwargs)
    print(ds.summary())
    print(f"ready in {time.perf_counter() - t0:.1f} s; cache folder: {cache_dir()}")
    return 0
