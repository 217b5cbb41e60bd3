"""The ``ecgssl`` command line (also ``python -m ecgssl``): one module per subcommand.

Every subcommand takes ``--config FILE.toml`` (options by long name; flags given on the
command line win); ecgssl's own errors (:mod:`ecgssl.errors`: bad options, missing or malformed data) print one
line and exit 2 (``--debug`` shows the traceback); any other exception is a bug and shows its
traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ecgssl.cli import compare, datasets, embed, evaluate, export, listing, pretrain
from ecgssl.cli._common import Parser, UserError, apply_config
from ecgssl.cli._common import parse_sets as _parse_sets
from ecgssl.errors import ECGSSLError

__all__ = ["UserError", "_parse_sets", "build_parser", "main"]

EPILOG = """examples:
  ecgssl pretrain --method bell              # the main job: BELL vs random init, built-in data
  ecgssl pretrain --config run.toml --out runs/bell --plot
  ecgssl evaluate runs/bell/encoder --protocol knn
  ecgssl embed runs/bell/encoder --out features.npz
  ecgssl export runs/bell/encoder --out exports/bell
  ecgssl compare --methods bell,byol,random_init --seeds 0
  ecgssl datasets prepare ludb --root ~/data/ludb
  ecgssl list methods
Run `ecgssl COMMAND --help` for a command's options and examples.
"""


def _version() -> str:
    from ecgssl import __version__

    return __version__


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and each subcommand's parser, by command path."""
    parser = Parser(
        prog="ecgssl", description="Self-supervised learning for multi-lead ECGs.", epilog=EPILOG
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--version", action="version", version=f"ecgssl {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    subparsers: dict[str, argparse.ArgumentParser] = {}
    for module in (pretrain, evaluate, compare, embed, export, listing):
        p = module.add_parser(sub)
        name = p.prog.split()[-1]
        p.set_defaults(command_path=name)
        subparsers[name] = p
    subparsers.update(datasets.add_parsers(sub))
    return parser, subparsers


def _is_user_error(e: BaseException) -> bool:
    """ecgssl's errors about the user's input, and OS errors naming a file (a wrong path)."""
    if isinstance(e, ECGSSLError):
        return True
    return isinstance(e, (FileNotFoundError, IsADirectoryError, NotADirectoryError,
                          PermissionError)) and getattr(e, "filename", None) is not None  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ecgssl`` command line; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # known before parsing, so parse errors can show tracebacks too
    try:
        parser, subparsers = build_parser()
        args = parser.parse_args(argv)
        debug = args.debug
        config = getattr(args, "config", None)
        if config is not None:
            apply_config(subparsers[args.command_path], config)
            args = parser.parse_args(argv)
        return int(args.handler(args))
    except Exception as e:
        # Only ecgssl's own errors (and the OS refusing a path the user gave) become one
        # line; anything else is a bug, and its traceback must show.
        if debug or not _is_user_error(e):
            raise
        message = " ".join(str(e).split()) or type(e).__name__
        print(f"ecgssl: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ecgssl: interrupted", file=sys.stderr)
        return 130
