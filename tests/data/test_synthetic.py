"""The built-in simulated dataset: contract, labels that mean what they say, determinism,
atomic cache."""

from __future__ import annotations

import numpy as np
import pytest

import ecgssl
from ecgssl.data.synthetic import CLASSES, simulate_record

N = 24


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def ds(cache):
    mp = pytest.MonkeyPatch()
    mp.setenv("ECGSSL_CACHE_DIR", str(cache))
    try:
        yield ecgssl.load_dataset("synthetic", n_records=N, n_jobs=1, progress=False)
    finally:
        mp.undo()


def test_contract(ds):
    assert ds.signals.shape == (N, 12, 500) and ds.signals.dtype == np.float32
    assert ds.fs == 100.0 and ds.n_leads == 12
    assert list(ds.leads) == [
        "I",
        "II",
        "III",
        "aVR",
        "aVL",
        "aVF",
        *[f"V{i}" for i in range(1, 7)],
    ]
    assert ds.classes == CLASSES and len(CLASSES) >= 5
    assert np.isfinite(ds.signals).all()
    assert set(np.unique(ds.split)) <= {"train", "val", "test"}
    assert ds.multilabel and ds.labels.shape == (N, len(CLASSES))
    assert (ds.labels.sum(axis=1) >= 1).all()  # every record has at least one label
    # Amplitudes in mV like a real ECG: peak-to-peak between 0.1 and 10 mV on every lead.
    ptp = np.ptp(ds.signals, axis=-1)
    assert (ptp > 0.1).all() and (ptp < 10).all()


def test_labels_follow_the_simulated_physiology(ds):
    hr = np.asarray(ds.info["heart_rate"])
    y = {c: ds.labels[:, i].astype(bool) for i, c in enumerate(CLASSES)}
    assert (hr[y["SB"]] < 60).all()
    assert (hr[y["STACH"]] > 100).all()
    assert not (y["NORM"] & (y["SB"] | y["STACH"] | y["AFIB"] | y["WQRS"] | y["TINV"])).any()
    rhythms = y["SB"].astype(int) + y["STACH"] + y["AFIB"]
    assert (rhythms <= 1).all()  # one rhythm per record


def test_signal_heart_rate_matches_the_label(ds):
    """neurokit2's R-peak detector, run on lead V3 of each regular-rhythm record, finds the
    heart rate that the SB/STACH labels are based on."""
    import warnings

    import neurokit2 as nk

    hr_label = np.asarray(ds.info["heart_rate"])
    regular = ~ds.labels[:, CLASSES.index("AFIB")].astype(bool)
    ratios = []
    for i in np.flatnonzero(regular):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, info = nk.ecg_peaks(ds.signals[i, 8], sampling_rate=int(ds.fs))
        rr = np.diff(info["ECG_R_Peaks"]) / ds.fs
        ratios.append(60 / np.median(rr) / hr_label[i] if len(rr) else np.nan)
    ratios = np.array(ratios)
    assert len(ratios) >= N // 2
    # Measured on the 1000-record default set: 99 % of regular records within 15 %.
    assert np.mean(np.abs(ratios - 1) < 0.15) >= 0.8, np.round(ratios, 2)


def test_deterministic_and_cached(ds, cache):
    files = list(cache.glob("synthetic-*.npz"))
    assert len(files) == 1
    assert not list(cache.glob("*.tmp*"))  # no temporary files left behind
    x, _ = simulate_record(3, seed=0, fs=100.0, duration=5.0)
    np.testing.assert_array_equal(x, ds.signals[3])
    mp = pytest.MonkeyPatch()
    mp.setenv("ECGSSL_CACHE_DIR", str(cache))
    try:
        again = ecgssl.load_dataset("synthetic", n_records=N, n_jobs=1, progress=False)
    finally:
        mp.undo()
    np.testing.assert_array_equal(again.signals, ds.signals)
    np.testing.assert_array_equal(again.labels, ds.labels)


def test_corrupt_cache_is_regenerated(ds, cache, monkeypatch):
    monkeypatch.setenv("ECGSSL_CACHE_DIR", str(cache))
    (path,) = cache.glob("synthetic-*.npz")
    path.write_bytes(path.read_bytes()[:1000])  # truncated, as if by a crash
    with pytest.warns(RuntimeWarning, match="regenerating"):
        again = ecgssl.load_dataset("synthetic", n_records=N, n_jobs=1, progress=False)
    np.testing.assert_array_equal(again.signals, ds.signals)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_records": 3}, "n_records"),
        ({"fs": 5}, "fs"),
        ({"duration": 0.5}, "duration"),
        ({"split": (0.5, 0.5, 0.5)}, "split"),
        ({"simulator": "matlab"}, "simulator"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ecgssl.load_dataset("synthetic", **kwargs)


def test_neurokit2_simulator_draws_the_same_records():
    """``simulator="neurokit2"`` (ecgssl 0.1's dataset) and the default draw the same record
    parameters and beats; the waveforms differ only by neurokit2's integration error."""
    a, pa = simulate_record(5, seed=0, fs=100.0, duration=5.0, simulator="neurokit2")
    b, pb = simulate_record(5, seed=0, fs=100.0, duration=5.0)
    assert pa["rhythm"] == pb["rhythm"] and pa["heart_rate"] == pb["heart_rate"]
    assert a.shape == b.shape == (12, 500)
    corr = [np.corrcoef(a[i], b[i])[0, 1] for i in range(12)]
    assert min(corr) > 0.5, np.round(corr, 3)
