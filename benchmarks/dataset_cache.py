"""First load vs cached load of a dataset (``ecgssl.load_dataset``).

By default LUDB from ``../shared/data/ludb`` (200 real 12-lead records); ``--ptbxl N`` instead
generates a PTB-XL-layout tree of N records (500 Hz) in a temporary folder. Each run uses a
fresh, empty cache folder. Prints the time of the first load (reading, preprocessing and
caching every record), of a cached load, and of a cached load that also reads every sample::

    python benchmarks/dataset_cache.py
    python benchmarks/dataset_cache.py --ptbxl 2000 --fs 100
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LEADS = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def make_ptbxl(folder: Path, n: int) -> Path:
    """A PTB-XL tree (both CSVs, records500/) of ``n`` noisy-sine records."""
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "scp_statements.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["", "diagnostic", "form", "rhythm", "diagnostic_class", "diagnostic_subclass"])
        w.writerows([["NORM", "1.0", "", "", "NORM", "NORM"], ["IMI", "1.0", "", "", "MI", "IMI"]])
    rng = np.random.default_rng(0)
    t = np.arange(5000) / 500
    with open(folder / "ptbxl_database.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ecg_id", "patient_id", "age", "sex", "scp_codes", "strat_fold",
                    "filename_lr", "filename_hr"])  # fmt: skip
        for i in range(1, n + 1):
            hr = f"records500/{i // 1000 * 1000:05d}/{i:05d}_hr"
            code = "NORM" if i % 3 else "IMI"
            w.writerow([i, i, 60, 0, repr({code: 100.0}), i % 10 + 1, hr.replace("500", "100"), hr])
            x = np.sin(2 * np.pi * rng.uniform(1, 2) * t)[:, None] + rng.normal(0, 0.05, (5000, 12))
            (folder / hr).parent.mkdir(parents=True, exist_ok=True)
            wfdb.wrsamp(Path(hr).name, fs=500, units=["mV"] * 12, sig_name=LEADS, p_signal=x,
                        fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12,
                        write_dir=str((folder / hr).parent))  # fmt: skip
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(ROOT / ".." / "shared" / "data" / "ludb"),
                        help="LUDB folder (default: ../shared/data/ludb)")  # fmt: skip
    parser.add_argument("--ptbxl", type=int, default=0, help="generate a PTB-XL tree of N records")
    parser.add_argument("--fs", type=float, default=500.0, help="output sampling rate (Hz)")
    parser.add_argument("--n-jobs", type=int, default=None, help="worker processes")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ECGSSL_CACHE_DIR"] = str(Path(tmp) / "cache")
        import ecgssl  # after setting the cache folder

        if args.ptbxl:
            t0 = time.perf_counter()
            root = make_ptbxl(Path(tmp) / "ptbxl", args.ptbxl)
            print(f"generated {args.ptbxl} PTB-XL records in {time.perf_counter() - t0:.1f} s")
            name, kwargs = "ptbxl", {"root": root, "fs": args.fs, "resolution": "hr"}
        else:
            root = Path(args.root).resolve()
            if not (root / "ludb.csv").exists():
                sys.exit(f"no LUDB at {root}; pass --root or --ptbxl N")
            name, kwargs = "ludb", {"root": root, "fs": args.fs}
        kwargs["n_jobs"] = args.n_jobs

        t0 = time.perf_counter()
        first = ecgssl.load_dataset(name, **kwargs, progress=False)
        t_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        cached = ecgssl.load_dataset(name, **kwargs, progress=False)
        t_cached = time.perf_counter() - t0
        t0 = time.perf_counter()
        touched = ecgssl.load_dataset(name, **kwargs, progress=False)
        total = float(touched.signals.sum(dtype=np.float64))
        t_touched = time.perf_counter() - t0

        assert cached.info["from_cache"] and not first.info["from_cache"]
        assert np.array_equal(np.asarray(first.signals), np.asarray(cached.signals))
        print(f"{name}: {first.summary()}  (checksum {total:.3f})")
        print(f"first load (read + preprocess + cache): {t_first:8.3f} s")
        print(f"cached load (memory-mapped):            {t_cached:8.3f} s   {t_first / t_cached:7.1f}x faster")  # fmt: skip
        print(f"cached load + reading every sample:     {t_touched:8.3f} s   {t_first / t_touched:7.1f}x faster")  # fmt: skip


if __name__ == "__main__":
    main()
