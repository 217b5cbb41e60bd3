"""The built-in dataset: labeled simulated 12-lead ECGs (ECGSYN, as in neurokit2).

Each record is simulated with the ECGSYN dynamical model of McSharry et al. (IEEE TBME 2003)
extended to 12 leads as ``neurokit2.ecg_simulate(method="multileads")`` extends it: by default
with :mod:`ecgssl.data.ecgsyn`, which integrates all 12 leads at once (about 10x faster and
closer to the exact ODE solution), or with neurokit2 itself (``simulator="neurokit2"``, the
dataset of ecgssl 0.1's tables, bit for bit). Per-record
wave parameters that encode a rhythm and a morphology, plus subject-like variation and
recording artefacts added by ecgssl. Generation runs once, in parallel, and is cached
atomically under :func:`ecgssl.data.cache.cache_dir`.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from scipy.signal import resample_poly
from tqdm.auto import tqdm

from ecgssl.data.base import ECGDataset
from ecgssl.data.cache import atomic_write_npz, cache_dir, config_hash, load_npz
from ecgssl.data.ecgsyn import NoProgressError, simulate_12lead
from ecgssl.errors import InvalidValueError
from ecgssl.registry import DATASETS
from ecgssl.validation import STANDARD_LEADS

__all__ = ["CLASSES", "SIMULATORS", "load_synthetic", "simulate_record"]

_FORMAT = 1  # neurokit2's simulator; the default simulator's cache files add a key
SIMULATORS = ("ecgsyn", "neurokit2")
#: Label columns (multi-label): a rhythm class or NORM, plus morphology classes.
CLASSES = ("NORM", "SB", "STACH", "AFIB", "WQRS", "TINV")
_RHYTHMS = ("sinus", "SB", "STACH", "AFIB")
_RHYTHM_P = (0.4, 0.2, 0.2, 0.2)
_MORPHS = ("none", "WQRS", "TINV")
_MORPH_P = (0.6, 0.2, 0.2)
# Typical relative lead amplitudes (neurokit2 min-max normalises every lead; this restores a
# realistic spread: small limb leads, large mid-precordial leads).
_LEAD_GAIN = np.array([0.6, 1.0, 0.5, 0.6, 0.4, 0.6, 0.8, 1.2, 1.3, 1.3, 1.1, 0.9])
# Where atrial fibrillatory waves are most visible (II, III, aVF, V1).
_FWAVE_GAIN = np.array([0.3, 0.8, 0.8, 0.4, 0.3, 0.8, 1.0, 0.6, 0.4, 0.3, 0.3, 0.3])
_SIM_FS = 500  # simulation rate; the output is resampled to fs
_PAD_S = 1.0  # extra simulated seconds, cropped at a random offset (random cardiac phase)
# neurokit2 0.2.x can loop forever on some RR draws; retry those. The limit is CPU time of
# this process (not wall time), so a loaded machine does not turn slow records into failures.
_TIMEOUT_S = 8.0


class _SimulationTimeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise ``_SimulationTimeout`` after ``seconds`` of this process's CPU time (POSIX main
    thread only; else no limit)."""
    usable = hasattr(signal, "setitimer") and _in_main_thread()
    if not usable:
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise _SimulationTimeout

    previous = signal.signal(signal.SIGVTALRM, handler)
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _draw_parameters(rng: np.random.Generator) -> dict[str, Any]:
    """Rhythm, morphology and ECGSYN wave parameters of one record."""
    rhythm = _RHYTHMS[rng.choice(4, p=_RHYTHM_P)]
    morph = _MORPHS[rng.choice(3, p=_MORPH_P)]
    hr = {
        "sinus": rng.uniform(60, 100),
        "SB": rng.uniform(40, 58),
        "STACH": rng.uniform(102, 150),
        "AFIB": rng.uniform(70, 130),
    }[rhythm]
    hr_std = rng.uniform(10, 20) if rhythm == "AFIB" else rng.uniform(0.5, 3)
    # ECGSYN defaults (P, Q, R, S, T), jittered per subject.
    ti = np.array([-70.0, -15.0, 0.0, 15.0, 100.0]) + rng.normal(0, [6, 2, 0, 2, 8])
    ai = np.array([1.2, -5.0, 30.0, -7.5, 0.75]) * rng.uniform(0.8, 1.2, 5)
    bi = np.array([0.25, 0.1, 0.1, 0.1, 0.4]) * rng.uniform(0.85, 1.15, 5)
    if rhythm == "AFIB":
        ai[0] = 0.0  # no organised atrial activity: no P wave
    if morph == "WQRS":
        bi[1:4] *= rng.uniform(2.0, 3.0)  # slow ventricular conduction: wide Q, R, S
        ai[3] *= rng.uniform(1.2, 1.8)  # deeper, slurred S
    elif morph == "TINV":
        ai[4] = -abs(ai[4]) * rng.uniform(0.5, 1.2)  # inverted T wave
    return {
        "rhythm": rhythm, "morph": morph, "heart_rate": float(hr), "heart_rate_std": float(hr_std),
        "lfhfratio": float(rng.uniform(0.3, 2.0) if rhythm == "AFIB" else 0.5),
        "ti": ti, "ai": ai, "bi": bi,
    }  # fmt: skip


def _simulate(
    params: dict[str, Any], duration: float, random_state: int, simulator: str
) -> np.ndarray:
    """(12, samples at _SIM_FS), retrying RR draws that cannot be simulated."""
    for attempt in range(5):
        seed = random_state + 7919 * attempt
        if simulator == "ecgsyn":
            try:
                return simulate_12lead(
                    duration, _SIM_FS, params["heart_rate"], params["heart_rate_std"],
                    params["lfhfratio"], params["ti"], params["ai"], params["bi"], seed,
                )  # fmt: skip
            except NoProgressError:
                continue
        try:  # neurokit2 loops forever on the same RR draws: limit its CPU time
            with _time_limit(_TIMEOUT_S), warnings.catch_warnings():
                import neurokit2 as nk

                warnings.simplefilter("ignore")
                df = nk.ecg_simulate(
                    duration=duration, sampling_rate=_SIM_FS, method="multileads", noise=0,
                    heart_rate=params["heart_rate"], heart_rate_std=params["heart_rate_std"],
                    lfhfratio=params["lfhfratio"], ti=params["ti"], ai=params["ai"],
                    bi=params["bi"], random_state=seed,
                )  # fmt: skip
            return np.asarray(df, dtype=np.float64).T
        except _SimulationTimeout:
            continue
    raise RuntimeError(f"could not simulate a record after 5 RR draws (params {params})")


def simulate_record(
    index: int, seed: int, fs: float, duration: float, simulator: str = "ecgsyn"
) -> tuple[np.ndarray, dict]:
    """Simulate record ``index`` of the dataset with ``seed``: (12, round(duration * fs)) mV.

    Deterministic in ``(index, seed, fs, duration, simulator)``, whatever the worker or order.
    """
    rng = np.random.default_rng([seed, index])
    params = _draw_parameters(rng)
    raw = _simulate(params, duration + _PAD_S, int(rng.integers(2**31 - 1)), simulator)
    # neurokit2 scales every lead to [-0.4, 1.2]: recentre on the isoelectric line (median)
    # and restore realistic between-lead and between-subject amplitude differences.
    raw = raw - np.median(raw, axis=1, keepdims=True)
    raw = raw / np.maximum(np.ptp(raw, axis=1, keepdims=True), 1e-6)
    gains = _LEAD_GAIN * rng.uniform(0.7, 1.3, 12) * rng.uniform(0.6, 1.6)
    x = raw * gains[:, None]
    n_out = round(duration * fs)
    offset = int(rng.integers(0, round(_PAD_S * _SIM_FS)))
    x = x[:, offset : offset + round(duration * _SIM_FS)]
    if fs != _SIM_FS:
        g = math.gcd(round(fs), _SIM_FS) if float(fs).is_integer() else 1
        up, down = (round(fs) // g, _SIM_FS // g) if g > 1 else (round(fs * 1000), _SIM_FS * 1000)
        x = resample_poly(x, up, down, axis=1)
    x = x[:, :n_out]
    if x.shape[1] < n_out:
        x = np.pad(x, ((0, 0), (0, n_out - x.shape[1])), mode="edge")
    x = x + _artefacts(rng, params, fs, n_out)
    return x.astype(np.float32), params


def _artefacts(rng: np.random.Generator, params: dict[str, Any], fs: float, n: int) -> np.ndarray:
    """Atrial f-waves (AFIB), baseline wander, powerline and Gaussian noise, (12, n) mV."""
    t = np.arange(n) / fs
    out = np.zeros((12, n))
    if params["rhythm"] == "AFIB":  # fibrillatory waves, 4–9 Hz, drifting frequency
        for _ in range(3):
            f0 = rng.uniform(4, 9)
            drift = rng.uniform(-0.5, 0.5) * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t)
            phase = 2 * np.pi * np.cumsum(f0 + drift) / fs + rng.uniform(0, 2 * np.pi)
            out += rng.uniform(0.02, 0.06) * _FWAVE_GAIN[:, None] * np.sin(phase)[None, :]
    for _ in range(2):  # respiration / movement
        amp = rng.uniform(0, 0.2)
        wave = amp * np.sin(2 * np.pi * rng.uniform(0.05, 0.5) * t + rng.uniform(0, 2 * np.pi))
        out += rng.uniform(0.5, 1.0, (12, 1)) * wave[None, :]
    if fs > 120 and rng.random() < 0.2:
        mains = 50.0 if rng.random() < 0.5 else 60.0
        out += rng.uniform(0, 0.05, (12, 1)) * np.sin(2 * np.pi * mains * t)[None, :]
    out += rng.normal(0, rng.uniform(0.005, 0.03), (12, n))
    return out


def _labels(params: dict[str, Any]) -> np.ndarray:
    y = np.zeros(len(CLASSES), dtype=np.float32)
    if params["rhythm"] == "sinus" and params["morph"] == "none":
        y[CLASSES.index("NORM")] = 1
    if params["rhythm"] != "sinus":
        y[CLASSES.index(params["rhythm"])] = 1
    if params["morph"] != "none":
        y[CLASSES.index(params["morph"])] = 1
    return y


def _chunk(args: tuple[list[int], int, float, float, str]) -> list[tuple[np.ndarray, dict]]:
    indices, seed, fs, duration, simulator = args
    return [simulate_record(i, seed, fs, duration, simulator) for i in indices]


def _stratified_split(
    labels: np.ndarray, fractions: tuple[float, float, float], seed: int
) -> np.ndarray:
    """Assign train/val/test per label combination, deterministic in ``seed``."""
    rng = np.random.default_rng([seed, 2**20])
    split = np.empty(labels.shape[0], dtype="<U5")
    keys = ["".join(map(str, row.astype(int))) for row in labels]
    for key in sorted(set(keys)):
        idx = rng.permutation([i for i, k in enumerate(keys) if k == key])
        n_val = round(fractions[1] * len(idx))
        n_test = round(fractions[2] * len(idx))
        split[idx] = "train"
        split[idx[:n_test]] = "test"
        split[idx[n_test : n_test + n_val]] = "val"
    return split


def _check_args(n_records: int, fs: float, duration: float, split: tuple) -> None:
    if isinstance(n_records, bool) or not isinstance(n_records, int) or n_records < 10:
        raise InvalidValueError(f"n_records must be an integer >= 10, got {n_records!r}")
    if not isinstance(fs, (int, float)) or not 20 <= fs <= 2000:
        raise InvalidValueError(f"fs must be a sampling rate between 20 and 2000 Hz, got {fs!r}")
    if not isinstance(duration, (int, float)) or not 2 <= duration <= 60:
        raise InvalidValueError(f"duration must be between 2 and 60 seconds, got {duration!r}")
    if len(split) != 3 or any(f <= 0 for f in split) or not math.isclose(sum(split), 1.0):
        raise InvalidValueError(
            f"split must be three positive fractions summing to 1, got {split!r}"
        )


@DATASETS.register("synthetic", "simulated")
def load_synthetic(
    n_records: int = 1000,
    fs: float = 100.0,
    duration: float = 5.0,
    seed: int = 0,
    split: tuple[float, float, float] = (0.7, 0.15, 0.15),
    cache: bool = True,
    n_jobs: int | None = None,
    progress: bool = True,
    simulator: str = "ecgsyn",
) -> ECGDataset:
    """Labeled simulated 12-lead ECGs (multi-label), generated once and cached.

    Classes (label columns) and how they are simulated with ECGSYN's per-wave parameters
    (angles ``ti``, amplitudes ``ai``, widths ``bi`` of P, Q, R, S, T):

    - ``NORM``: sinus rhythm at 60–100 bpm and normal morphology.
    - ``SB`` (sinus bradycardia): 40–58 bpm.
    - ``STACH`` (sinus tachycardia): 102–150 bpm.
    - ``AFIB`` (atrial-fibrillation-like): no P wave, fibrillatory f-waves at 4–9 Hz
      (0.02–0.06 mV per component, strongest in II, III, aVF, V1), 70–130 bpm and strongly
      varying RR intervals (heart-rate s.d. 10–20 bpm). ECGSYN's RR process is smooth
      (Mayer waves and respiration), not random beat to beat as in real AF.
    - ``WQRS`` (wide QRS, bundle-branch-block-like): Q, R, S widths x2–3 and a deeper S.
    - ``TINV`` (T-wave inversion, ischaemia-like): negative T amplitude.

    Rhythm (sinus 40 %, SB, STACH, AFIB 20 % each) and morphology (normal 60 %, WQRS 20 %,
    TINV 20 %) are drawn independently, so a record can carry e.g. STACH + WQRS.
    Subject-like variation: jittered wave angles/amplitudes/widths, a random cardiac phase at
    the start, realistic per-lead and per-subject amplitudes (0.6–1.6 x), baseline wander
    (up to 0.2 mV per component, 0.05–0.5 Hz), Gaussian noise (0.005–0.03 mV) and, at
    fs > 120 Hz, occasional 50/60 Hz interference. One record per simulated patient.

    Args:
        n_records: Number of records (>= 10).
        fs: Output sampling rate in Hz (simulated at 500 Hz and resampled).
        duration: Record duration in seconds.
        seed: Seed; the same arguments give bit-identical arrays.
        split: Train/val/test fractions, stratified by label combination.
        cache: Read/write the cache (``$ECGSSL_CACHE_DIR`` or ``~/.cache/ecgssl``).
        n_jobs: Worker processes (default: all cores; 1 runs in this process).
        progress: Show a progress bar while simulating.
        simulator: ``"ecgsyn"`` (:mod:`ecgssl.data.ecgsyn`: all 12 leads in one accurate
            integration, about 0.1 s per record) or ``"neurokit2"`` (neurokit2's own
            ``ecg_simulate``, one integration per lead at its default tolerance, about 1 s per
            record: the dataset ecgssl 0.1's simulated tables were made with).

    Returns:
        An :class:`ECGDataset` with signals (n_records, 12, round(duration * fs)) in mV.
    """
    split = tuple(float(f) for f in split)  # type: ignore[assignment]
    _check_args(n_records, fs, duration, split)
    if simulator not in SIMULATORS:
        raise InvalidValueError(f"simulator must be one of {SIMULATORS}, got {simulator!r}")
    config: dict[str, Any] = {"format": _FORMAT, "n_records": n_records, "fs": float(fs),
              "duration": float(duration), "seed": seed, "split": list(split)}  # fmt: skip
    if simulator != "neurokit2":  # neurokit2's files keep the key-less config of ecgssl 0.1
        config["simulator"] = simulator
    path = cache_dir() / f"synthetic-{config_hash(config)}.npz" if cache else None
    arrays: dict[str, np.ndarray] | None = None
    if path is not None and path.exists():
        try:
            arrays = load_npz(path)
        except ValueError as e:
            warnings.warn(f"{e}; regenerating it", RuntimeWarning, stacklevel=2)
    if arrays is None:
        arrays = _generate(
            n_records, float(fs), float(duration), seed, split, n_jobs, progress, simulator
        )
        if path is not None:
            atomic_write_npz(path, **arrays)
    labels = arrays["labels"]
    info = {
        **config,
        "simulator": simulator,
        "source": (
            "neurokit2.ecg_simulate(method='multileads')"
            if simulator == "neurokit2"
            else "ecgssl.data.ecgsyn.simulate_12lead (ECGSYN, neurokit2's 12-lead gains)"
        ),
        "prevalence": {c: float(v) for c, v in zip(CLASSES, labels.mean(axis=0))},
        "heart_rate": arrays["heart_rate"].tolist(),
    }
    ids = np.array([f"syn{i:05d}" for i in range(n_records)])
    return ECGDataset(
        signals=arrays["signals"], fs=float(fs), leads=STANDARD_LEADS, labels=labels,
        classes=CLASSES, split=arrays["split"], record_ids=ids, patient_ids=ids.copy(),
        multilabel=True, name="synthetic", info=info,
    )  # fmt: skip


def _generate(
    n_records: int, fs: float, duration: float, seed: int, split: tuple, n_jobs: int | None,
    progress: bool, simulator: str,
) -> dict[str, np.ndarray]:  # fmt: skip
    n_jobs = max(1, n_jobs or os.cpu_count() or 1)
    chunk = max(1, min(16, n_records // (4 * n_jobs) or 1))
    tasks = [(list(range(s, min(s + chunk, n_records))), seed, fs, duration, simulator)
             for s in range(0, n_records, chunk)]  # fmt: skip
    bar = tqdm(total=n_records, desc="Simulating ECGs", unit="rec", disable=not progress)
    results: list[tuple[np.ndarray, dict]] = []
    try:
        if n_jobs == 1:
            for task in tasks:
                results += _chunk(task)
                bar.update(len(task[0]))
        else:
            with ProcessPoolExecutor(max_workers=n_jobs) as pool:
                for out in pool.map(_chunk, tasks):
                    results += out
                    bar.update(len(out))
    finally:
        bar.close()
    signals = np.stack([r[0] for r in results])
    labels = np.stack([_labels(r[1]) for r in results])
    return {
        "signals": signals,
        "labels": labels,
        "split": _stratified_split(labels, split, seed),
        "heart_rate": np.array([r[1]["heart_rate"] for r in results], dtype=np.float32),
    }
