"""Same-budget comparison of SSL methods vs supervised vs random init (``ecgssl compare``).

    python benchmarks/compare_methods.py                       # built-in dataset, defaults
    python benchmarks/compare_methods.py --ablations --seeds 0
    python benchmarks/compare_methods.py --dataset ludb --root ../shared/data/ludb

Writes results.csv / results.md / results.png under benchmarks/results/<dataset>/ and
prints the table; re-running resumes (finished cells are skipped). See ``--help``.
"""

import sys

from ecgssl.cli import main

if __name__ == "__main__":
    sys.exit(main(["compare", *sys.argv[1:]]))
