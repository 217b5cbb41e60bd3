"""Fixtures for the dataset tests: an isolated cache folder, the real samples folder, and
writers of miniature datasets in each official on-disk layout (generated signals)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import wfdb

from ecgssl.validation import STANDARD_LEADS

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ECGSSL_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def shared() -> Callable[[str], Path]:
    """The real-sample folder ``../shared/data/<name>``; skips the test when it is absent."""

    def get(name: str) -> Path:
        path = (SHARED / name).resolve()
        if not path.is_dir():
            pytest.skip(f"real sample data {path} not present (see shared/data/README.md)")
        return path

    return get


@pytest.fixture
def shared_file() -> Callable[[str], Path]:
    """The real-sample file ``../shared/data/<name>``; skips the test when it is absent."""

    def get(name: str) -> Path:
        path = (SHARED / name).resolve()
        if not path.is_file():
            pytest.skip(f"real sample file {path} not present (see shared/data/README.md)")
        return path

    return get


def sine_record(n_leads: int, n: int, fs: float, seed: int, freq: float = 5.0) -> np.ndarray:
    """(n_leads, n) mV: lead j is a sine of ``freq`` Hz with amplitude 0.1 * (j + 1) plus an
    offset of j mV, plus a little seeded noise."""
    t = np.arange(n) / fs
    rng = np.random.default_rng(seed)
    amp = 0.1 * (np.arange(n_leads) + 1)
    x = amp[:, None] * np.sin(2 * np.pi * freq * t)[None, :] + np.arange(n_leads)[:, None]
    return x + rng.normal(0, 0.001, (n_leads, n))


def write_wfdb(
    folder: Path, name: str, x: np.ndarray, fs: float, leads: Sequence[str],
    comments: Sequence[str] = (),
) -> Path:  # fmt: skip
    """Write (leads, time) mV as a WFDB record (format 16, ``.hea`` + ``.dat``)."""
    folder.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(name, fs=fs, units=["mV"] * len(leads), sig_name=list(leads),
                p_signal=x.T, fmt=["16"] * len(leads), adc_gain=[1000.0] * len(leads),
                baseline=[0] * len(leads), comments=list(comments), write_dir=str(folder))  # fmt: skip
    return folder / name


def write_cinc(
    folder: Path, name: str, x: np.ndarray, fs: float, dx: Sequence[str],
    leads: Sequence[str] = STANDARD_LEADS, age: int = 60, sex: str = "Male",
) -> Path:  # fmt: skip
    """A PhysioNet/CinC 2021 record: MATLAB v4 ``val`` (int16, 1000/mV) + WFDB header."""
    folder.mkdir(parents=True, exist_ok=True)
    val = np.round(x * 1000).astype(np.int16)
    scipy.io.savemat(folder / f"{name}.mat", {"val": val}, format="4")
    lines = [f"{name} {len(leads)} {fs:g} {val.shape[1]}"]
    lines += [f"{name}.mat 16x1+24 1000.0(0)/mV 16 0 {val[i, 0]} 0 0 {lead}"
              for i, lead in enumerate(leads)]  # fmt: skip
    lines += [f"# Age: {age}", f"# Sex: {sex}", f"# Dx: {','.join(dx)}", "# Rx: Unknown"]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")
    return folder / name


def write_cpsc_original(folder: Path, records: dict[str, tuple[np.ndarray, list[int]]]) -> Path:
    """The original CPSC 2018 layout: ``ECG`` structs in ``<name>.mat`` + ``REFERENCE.csv``."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "REFERENCE.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Recording", "First_label", "Second_label", "Third_label"])
        for name, (x, labels) in records.items():
            ecg = {"sex": "Female", "age": np.array([[40]]), "data": x}
            scipy.io.savemat(folder / f"{name}.mat", {"ECG": ecg})
            w.writerow([name, *labels, *[""] * (3 - len(labels))])
    return folder


#: (code, diagnostic, form, rhythm, diagnostic_class, diagnostic_subclass) of scp_statements.
PTBXL_STATEMENTS = [
    ("NORM", "1.0", "", "", "NORM", "NORM"),
    ("IMI", "1.0", "", "", "MI", "IMI"),
    ("ASMI", "1.0", "", "", "MI", "AMI"),
    ("LAFB", "1.0", "", "", "CD", "LAFB/LPFB"),
    ("NDT", "1.0", "1.0", "", "STTC", "STTC"),
    ("LVOLT", "", "1.0", "", "", ""),
    ("SR", "", "", "1.0", "", ""),
    ("AFIB", "", "", "1.0", "", ""),
]
#: (ecg_id, patient_id, scp_codes, strat_fold) of the miniature PTB-XL.
PTBXL_ROWS = [
    (1, 101, {"NORM": 100.0, "LVOLT": 0.0, "SR": 0.0}, 3),
    (2, 101, {"IMI": 50.0, "SR": 0.0}, 3),
    (3, 102, {"ASMI": 100.0, "LAFB": 100.0, "AFIB": 0.0}, 9),
    (4, 103, {"NDT": 100.0, "SR": 0.0}, 10),
    (5, 104, {"SR": 0.0}, 1),  # no diagnostic statement: dropped by the diagnostic tasks
    (6, 105, {"NORM": 80.0, "AFIB": 0.0}, 8),
]


@pytest.fixture
def ptbxl_tree(tmp_path) -> Path:
    """A PTB-XL tree: both CSVs, ``records100`` and ``records500`` for 6 records."""
    root = tmp_path / "ptbxl"
    root.mkdir()
    header = ["", "description", "diagnostic", "form", "rhythm", "diagnostic_class",
              "diagnostic_subclass", "Statement Category"]  # fmt: skip
    with open(root / "scp_statements.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for code, *flags in PTBXL_STATEMENTS:
            w.writerow([code, code.lower(), *flags, "test"])
    with open(root / "ptbxl_database.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ecg_id", "patient_id", "age", "sex", "scp_codes", "strat_fold",
                    "filename_lr", "filename_hr"])  # fmt: skip
        for ecg_id, pid, codes, fold in PTBXL_ROWS:
            lr, hr = f"records100/00000/{ecg_id:05d}_lr", f"records500/00000/{ecg_id:05d}_hr"
            w.writerow([ecg_id, f"{pid}.0", "56.0", "1", repr(codes), fold, lr, hr])
            upper = [lead.upper() for lead in STANDARD_LEADS]  # as in PTB-XL headers
            for rel, fs in ((lr, 100), (hr, 500)):
                x = sine_record(12, 10 * fs, fs, seed=ecg_id)
                write_wfdb(root / Path(rel).parent, Path(rel).name, x, fs, upper)
    return root


class Writers:
    """The writers above, handed to tests by the ``mk`` fixture (test modules cannot import
    conftest under ``--import-mode=importlib``)."""

    sine_record = staticmethod(sine_record)
    write_wfdb = staticmethod(write_wfdb)
    write_cinc = staticmethod(write_cinc)
    write_cpsc_original = staticmethod(write_cpsc_original)


@pytest.fixture
def mk() -> type[Writers]:
    return Writers
