"""``ecgssl export``: a saved encoder as TorchScript (+ ONNX) with a JSON signal card."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser"]

EPILOG = """examples:
  ecgssl export runs/bell/encoder.pt --out exports/bell     # exports/bell.pt + bell.json
  ecgssl export runs/bell/checkpoints/ckpt-epoch0040-step00000200.pt --out bell --onnx
Load it anywhere with torch.jit.load("exports/bell.pt"), or ecgssl.load_exported(...);
the card (bell.json) gives fs, lead order, window, preprocessing and normalisation.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "export",
        help="export a saved encoder as TorchScript/ONNX with a signal card",
        description="Write the encoder as TorchScript (PATH.pt), a JSON signal card "
        "(PATH.json) and, when the onnx package is installed, ONNX (PATH.onnx).",
        epilog=EPILOG,
    )
    p.add_argument("encoder", type=Path, help="checkpoint or encoder.pt")
    p.add_argument("--config", type=Path, default=None, help="TOML file of options")
    p.add_argument("--out", type=Path, required=True, help="output path (suffix replaced)")
    onnx = p.add_mutually_exclusive_group()
    onnx.add_argument("--onnx", dest="onnx", action="store_const", const=True, default=None,
                      help="require ONNX (error if the onnx package is missing)")  # fmt: skip
    onnx.add_argument("--no-onnx", dest="onnx", action="store_const", const=False,
                      help="never write ONNX")  # fmt: skip
    p.set_defaults(handler=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ecgssl.export import export

    files = export(args.encoder, args.out, onnx=args.onnx)
    print(f"wrote {files.torchscript} and {files.card}" + (f" and {files.onnx}" if files.onnx else
          " (pip install onnx for an ONNX copy)"))  # fmt: skip
    return 0
