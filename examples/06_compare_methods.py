"""Compare SSL methods on one budget, next to supervised training and a random-init encoder.

python examples/06_compare_methods.py                 # BELL, BYOL, SimCLR, baselines; ~1 h
python examples/06_compare_methods.py --fast          # two methods, one seed; seconds
python examples/06_compare_methods.py --out my_results

The same as `ecgssl compare`; results.csv / results.md (and results.png with matplotlib)
are written to --out (default: a temporary folder). Re-running resumes finished cells.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import ecgssl
from ecgssl.compare import CompareConfig, run_comparison


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="tiny dataset, encoder and budget")
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    args = parser.parse_args()

    if args.fast:
        data = ecgssl.load_dataset("synthetic", n_records=40, progress=False)
        config = CompareConfig(
            methods=["simclr", "random_init"], label_fractions=[1.0], seeds=[0], epochs=1,
            batch_size=16, encoder={"name": "resnet1d", "width": 8}, n_boot=20,
        )  # fmt: skip
    else:
        data = ecgssl.load_dataset("synthetic")
        config = CompareConfig(methods=["bell", "byol", "simclr", "supervised", "random_init"])
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        run_comparison(data, config, out, progress=False)
        print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
