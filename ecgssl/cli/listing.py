"""``ecgssl list methods|encoders|augmentations|datasets``."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser"]

EPILOG = """examples:
  ecgssl list methods
  ecgssl list augmentations
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    ls: argparse.ArgumentParser = sub.add_parser(
        "list", help="list registered components", description="Registered names, one a line.",
        epilog=EPILOG,
    )  # fmt: skip
    ls.add_argument("kind", choices=["methods", "encoders", "augmentations", "datasets"])
    ls.set_defaults(handler=run)
    return ls


def run(args: argparse.Namespace) -> int:
    import ecgssl

    listing = {
        "methods": ecgssl.list_methods,
        "encoders": ecgssl.list_encoders,
        "augmentations": ecgssl.list_augmentations,
        "datasets": ecgssl.list_datasets,
    }[args.kind]()
    print("\n".join(listing))
    return 0
