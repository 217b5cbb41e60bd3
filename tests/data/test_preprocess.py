"""Preprocessing: lead selection by name, resampling, band-pass, window, standardisation."""

import numpy as np
import pytest
from scipy.signal import welch

from ecgssl.data.preprocess import (
    MissingLeadsError,
    PreprocessConfig,
    bandpass,
    canonical_lead,
    fix_length,
    preprocess_record,
    resample,
    select_leads,
    standardize_records,
    standardize_with_train_stats,
)
from ecgssl.validation import STANDARD_LEADS


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"fs": 0}, "fs"), ({"fs": -100.0}, "fs"), ({"window": 0}, "window"),
     ({"crop": "middle"}, "crop"), ({"standardize": "global"}, "standardize"),
     ({"missing_leads": "drop"}, "missing_leads"), ({"leads": ()}, "leads"),
     ({"leads": ("I", "i")}, "leads"), ({"leads": "I"}, "leads"),
     ({"bandpass": (40.0, 0.5)}, "bandpass"), ({"bandpass": (None, None)}, "bandpass"),
     ({"bandpass": (0.5, 60.0), "fs": 100.0}, "bandpass")],
)  # fmt: skip
def test_config_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        PreprocessConfig(**kwargs)


def test_config_canonicalises_lead_names_and_serialises():
    cfg = PreprocessConfig(fs=250, leads=["avr", "V1", " ii "], bandpass=[0.5, 40])
    assert cfg.leads == ("aVR", "V1", "II")
    assert cfg.to_dict()["leads"] == ["aVR", "V1", "II"]
    assert cfg.to_dict()["bandpass"] == [0.5, 40]
    assert PreprocessConfig(standardize="train").record_key()["standardize"] == "none"


def test_canonical_lead():
    assert [canonical_lead(n) for n in ("AVR", "avl", "aVF", "v6", "I", "vx")] == [
        "aVR", "aVL", "aVF", "V6", "I", "vx"]  # fmt: skip


def test_select_leads_reorders_case_insensitively_and_flags_missing():
    x = np.arange(3)[:, None] * np.ones((3, 4))  # row i holds the value i
    y, mask = select_leads(x, ["I", "AVR", "v2"], ["V2", "aVR", "I"])
    np.testing.assert_array_equal(y[:, 0], [2, 1, 0])
    assert not mask.any()
    with pytest.raises(MissingLeadsError, match=r"V6.*missing_leads='zero'"):
        select_leads(x, ["I", "AVR", "v2"], ["I", "V6"])
    y, mask = select_leads(x, ["I", "AVR", "v2"], ["I", "V6"], missing="zero")
    np.testing.assert_array_equal(mask, [False, True])
    assert (y[1] == 0).all() and (y[0] == 0).all()


def test_resample_keeps_duration_and_frequency():
    fs_in, fs_out = 257.0, 500.0
    t = np.arange(int(10 * fs_in)) / fs_in
    x = np.sin(2 * np.pi * 7.0 * t)[None, :]
    y = resample(x, fs_in, fs_out)
    assert y.shape[1] == pytest.approx(10 * fs_out, abs=2)
    f, p = welch(y[0], fs=fs_out, nperseg=2048)
    assert f[np.argmax(p)] == pytest.approx(7.0, abs=0.3)
    assert resample(x, 500, 500) is x


def test_bandpass_removes_offset_and_high_frequency():
    fs = 500.0
    t = np.arange(5000) / fs
    slow = np.sin(2 * np.pi * 10 * t)
    x = (3.0 + slow + np.sin(2 * np.pi * 120 * t))[None, :]
    y = bandpass(x, fs, 0.5, 40.0)[0, 2000:3000]  # the middle: away from edge transients
    np.testing.assert_allclose(y, slow[2000:3000], atol=0.01)
    with pytest.raises(ValueError, match="Nyquist"):
        bandpass(x, 100.0, None, 60.0)


def test_fix_length_crops_start_or_centre_and_pads_end():
    x = np.arange(10.0)[None, :]
    np.testing.assert_array_equal(fix_length(x, 4), [[0, 1, 2, 3]])
    np.testing.assert_array_equal(fix_length(x, 4, "center"), [[3, 4, 5, 6]])
    np.testing.assert_array_equal(fix_length(x, 12), [[*range(10), 0, 0]])


def test_standardisation_per_record_and_from_train_split():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (4, 2, 1000))
    z = standardize_records(x)
    np.testing.assert_allclose(z.mean(-1), 0, atol=1e-9)
    np.testing.assert_allclose(z.std(-1), 1, atol=1e-9)
    x[2:] += 100.0  # non-train records must not influence the statistics
    out, stats = standardize_with_train_stats(x, np.array([True, True, False, False]))
    np.testing.assert_allclose(out[:2].mean(axis=(0, 2)), 0, atol=1e-5)
    assert stats["mean"][0] == pytest.approx(x[:2, 0].mean())
    with pytest.raises(ValueError, match="train"):
        standardize_with_train_stats(x, np.zeros(4, dtype=bool))


def test_preprocess_record_chain():
    fs = 500.0
    x = np.ones((12, 3000)) * np.arange(12)[::-1, None]
    lower = [n.lower() for n in STANDARD_LEADS]
    cfg = PreprocessConfig(fs=100, leads=("V6", "I"), window=10.0)
    y, mask = preprocess_record(x, fs, lower, cfg, 100.0, cfg.leads, 1000)
    assert y.shape == (2, 1000) and y.dtype == np.float32 and not mask.any()
    np.testing.assert_allclose(y[:, 100:500].mean(1), [0.0, 11.0], atol=1e-6)  # V6 = 0, I = 11
    assert (y[:, 600:] == 0).all()  # 6 s padded to 10 s with zeros
