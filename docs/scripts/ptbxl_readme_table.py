"""The README's PTB-XL table, from benchmarks/results/ptbxl-dev/results.md.

python docs/scripts/ptbxl_readme_table.py            # rewrite the block in README.md
python docs/scripts/ptbxl_readme_table.py --print    # only print it

Reads the first table of results.md (written by ``benchmarks/ptbxl_dev_report.py``: per
recipe and cell, pretrained vs the same weights untrained, paired gain and its bootstrap
interval) and lays it out one row per recipe, one column per cell, between the README's
``<!-- --8<-- [start:ptbxl-table] -->`` and ``<!-- /ptbxl-table -->`` markers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "ptbxl-dev" / "results.md"
START, END = "<!-- --8<-- [start:ptbxl-table] -->", "<!-- /ptbxl-table -->"
NAMES = {
    "bell-vc-recipe": "BELL, recipe",
    "bell-recipe": "BELL without regulariser",
    "bell-1500": "BELL without regulariser, 1500 steps",
    "lead_barlow-recipe": "`lead_barlow`",
    "byol-recipe": "BYOL",
    "vicreg-recipe": "VICReg",
    "simclr-recipe": "SimCLR",
    "barlow_twins-recipe": "Barlow Twins",
    "clocs-recipe": "CLOCS",
}
CELLS = ("linear@0.01", "linear@0.1", "linear@1", "finetune@0.1")
HEAD = (
    "| method (seeds) | linear 1 % (13 rec.) | linear 10 % (128 rec.) | "
    "linear 100 % (1,282 rec.) | fine-tune 10 % |\n|---|---:|---:|---:|---:|"
)


def table(results: Path) -> str:
    rows: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {}
    for line in results.read_text().split("\n\n")[0].splitlines():  # the first table only
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 9 or cells[0] == "recipe" or cells[0].startswith("---"):
            continue
        tag, seeds, _steps, _minutes, cell, ssl, rnd, gain, ci = cells[:9]
        rows.setdefault((tag, seeds), {})[cell] = (ssl, rnd, gain, ci)
    out = [HEAD]
    order = list(NAMES)  # the recipes in NAMES' order, then any other tag as found
    ranked = sorted(rows.items(), key=lambda kv: order.index(kv[0][0]) if kv[0][0] in order else 99)
    for (tag, seeds), by_cell in ranked:

        def fmt(cell: str, by_cell: dict[str, tuple[str, ...]] = by_cell) -> str:
            if cell not in by_cell:
                return "–"
            ssl, rnd, gain, ci = by_cell[cell]
            return f"{ssl} vs {rnd} (**{gain}**, {ci})"

        out.append(f"| {NAMES.get(tag, tag)} ({seeds}) | " + " | ".join(map(fmt, CELLS)) + " |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    ap.add_argument("--print", action="store_true", help="print the table, change nothing")
    a = ap.parse_args()
    text = table(a.results)
    if a.print:
        print(text)
        return
    readme = a.readme.read_text()
    i, j = readme.index(START) + len(START), readme.index(END)
    a.readme.write_text(readme[:i] + "\n" + text + "\n" + readme[j:])
    print(f"rewrote the table in {a.readme}")


if __name__ == "__main__":
    main()
