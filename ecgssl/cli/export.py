"""``ecgssl export``: a saved encoder as a torch.export program or ONNX, with a JSON card."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser"]

EPILOG = """examples:
  ecgssl export runs/bell/encoder --out exports/bell          # exports/bell.pt2 + bell.json
  ecgssl export runs/bell/encoder --out exports/bell --format onnx   # bell.onnx + bell.json
  ecgssl export runs/bell/checkpoints/ckpt-epoch0040-step00000200.pt --out bell
Load a .pt2 with torch.export.load("exports/bell.pt2").module() (or ecgssl.load_exported),
an .onnx with onnxruntime.InferenceSession; ONNX needs pip install 'ecgssl[onnx]'. The card
(bell.json) gives fs, lead order, window, preprocessing and normalisation.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "export",
        help="export a saved encoder as a torch.export program or ONNX, with a signal card",
        description="Write the encoder as a torch.export program (PATH.pt2) or ONNX "
        "(PATH.onnx), with a dynamic batch dimension, and a JSON card (PATH.json).",
        epilog=EPILOG,
    )
    p.add_argument("encoder", type=Path,
                   help="encoder folder (config.json + model.safetensors), checkpoint or "
                   "encoder.pt")  # fmt: skip
    p.add_argument("--config", type=Path, default=None, help="TOML file of options")
    p.add_argument("--out", type=Path, required=True, help="output path (suffix replaced)")
    p.add_argument("--format", default="pt2", choices=["pt2", "onnx"],
                   help="pt2: torch.export program (default); onnx: ONNX via the dynamo "
                   "exporter (pip install 'ecgssl[onnx]')")  # fmt: skip
    p.set_defaults(handler=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ecgssl.export import export

    files = export(args.encoder, args.out, format=args.format)
    print(f"wrote {files.program} and {files.card}")
    return 0
