"""Every bad input the public API meets gets an error that names the problem.

One table, so the list of inputs tried and the error each one gets is in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import ecgssl
from ecgssl.augment import TwoViews
from ecgssl.data.arrays import load_arrays
from ecgssl.data.base import ECGDataset
from ecgssl.registry import AUGMENTATIONS, ENCODERS, METHODS
from ecgssl.training import Pretrainer
from ecgssl.validation import (
    STANDARD_LEADS,
    check_int,
    check_lead_names,
    check_positive,
    check_range_pair,
    lead_indices,
)

FS = 50.0


def x(n: int = 16, leads: int = 3, t: int = 100, dtype: torch.dtype = torch.float32):
    return torch.randn(n, leads, t, generator=torch.Generator().manual_seed(0)).to(dtype)


def with_value(value: float) -> torch.Tensor:
    out = x()
    out[3, 1, 10] = value
    return out


def trainer(leads: int = 3, views: Any = None, **kw: Any) -> Pretrainer:
    torch.manual_seed(0)
    enc = ENCODERS.build("multibranch", n_leads=leads, per_lead_dim=8, width=4)
    views = views or TwoViews(AUGMENTATIONS.build({"name": "random_crop", "seconds": 1.5}))
    options = {"epochs": 1, "batch_size": 8, "progress": False, "device": "cpu", **kw}
    return Pretrainer(METHODS.build("simclr", encoder=enc), views, **options)


def dataset(leads=("I", "II", "V1"), fs: float = FS) -> ECGDataset:
    return ECGDataset(signals=x().numpy(), fs=fs, leads=tuple(leads), name="tiny")


def labeled() -> ECGDataset:
    split = ["train"] * 8 + ["val"] * 4 + ["test"] * 4
    return load_arrays(x().numpy(), FS, labels=np.arange(16) % 2, split=split)


def encoder():
    return ENCODERS.build("multibranch", n_leads=3, per_lead_dim=8, width=4)


CASES: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    # -- signals given to Pretrainer.fit
    ("NaN in signals", lambda: trainer().fit(with_value(float("nan")), fs=FS), ValueError,
     r"training signals contains 1 NaN and 0 Inf values \(first affected batch indices: \[3\]\)"),
    ("Inf in signals", lambda: trainer().fit(with_value(float("inf")), fs=FS), ValueError,
     "contains 0 NaN and 1 Inf"),
    ("integer tensor", lambda: trainer().fit(x().long(), fs=FS), TypeError,
     "must be a floating-point tensor, got dtype torch.int64"),
    ("integer numpy array", lambda: trainer().fit(x().numpy().astype(int), fs=FS), TypeError,
     "floating-point array, got dtype int"),
    ("complex tensor", lambda: trainer().fit(x().to(torch.complex64), fs=FS), TypeError,
     "floating-point tensor"),
    ("2-D tensor", lambda: trainer().fit(x()[0], fs=FS), ValueError,
     r"shaped \(batch, leads, time\), got 2 dimensions"),
    ("wrong lead count", lambda: trainer().fit(x(leads=5), fs=FS), ValueError,
     "the data have 5 leads but the encoder expects 3"),
    ("no fs for a tensor", lambda: trainer().fit(x()), ValueError, "fs .* is required"),
    ("negative fs", lambda: trainer().fit(x(), fs=-50), ValueError, "fs must be a finite number > 0"),
    ("NaN fs", lambda: trainer().fit(x(), fs=float("nan")), ValueError, "fs must be a finite"),
    ("string fs", lambda: trainer().fit(x(), fs="50"), TypeError, "fs must be a number"),
    ("fs contradicting the dataset", lambda: trainer().fit(dataset(), fs=100), ValueError,
     "fs mismatch: fs=100 Hz was given but dataset 'tiny' is sampled at 50 Hz"),
    ("empty tensor", lambda: trainer().fit(x(n=0), fs=FS), ValueError, "is empty: 0 records"),
    ("empty dataset", lambda: ECGDataset(signals=np.zeros((0, 3, 10), np.float32), fs=FS,
     leads=("a", "b", "c")), ValueError, "dataset is empty"),
    ("dataset with infinite fs", lambda: trainer().fit(dataset(fs=float("inf"))), ValueError,
     "fs of dataset 'tiny' must be a finite number > 0, got inf"),
    ("dataset with duplicate leads", lambda: trainer().fit(dataset(leads=("I", "I", "V1"))),
     ValueError, r"leads of dataset 'tiny' holds duplicate lead names \['I'\]"),
    ("empty loader", lambda: trainer().fit([], fs=FS), ValueError, "yield no batches"),
    ("zero-length records", lambda: trainer().fit(x(t=0), fs=FS), ValueError,
     "too short: 0 time samples"),
    ("records shorter than the crop", lambda: trainer().fit(x(t=60), fs=FS), ValueError,
     r"records have 60 samples \(1.20 s at 50 Hz\) but the augmentation pipeline needs at least 75"),
    ("batch larger than the dataset", lambda: trainer(batch_size=64).fit(x(), fs=FS), ValueError,
     "batch_size=64 is larger than the 16 training records"),
    ("not data at all", lambda: trainer().fit("signals.npy", fs=FS), TypeError,
     "training data must be an ECGDataset"),
    # -- lead names
    ("unknown lead name", lambda: trainer().fit(dataset(), leads=["I", "II", "V7"]), ValueError,
     r"unknown lead name\(s\) 'V7' \(did you mean \['V1'\]\?\); available leads: \['I', 'II', 'V1'\]"),
    ("lead name in the wrong case", lambda: lead_indices(["avr"], STANDARD_LEADS), ValueError,
     r"'avr' \(did you mean \['aVR'\]\?\)"),
    ("duplicate lead names", lambda: trainer().fit(x(), fs=FS, leads=["I", "I", "II"]),
     ValueError, r"duplicate lead names \['I'\]"),
    ("too few lead names", lambda: trainer().fit(x(), fs=FS, leads=["I", "II"]), ValueError,
     "2 leads given for 3 signal leads"),
    ("one string as lead names", lambda: check_lead_names("I II V1"), TypeError,
     "sequence of lead names"),
    ("empty lead name", lambda: check_lead_names(["I", " "]), TypeError, "non-empty strings"),
    ("VCG on non-standard lead order", lambda: trainer(
        leads=12, views=TwoViews(AUGMENTATIONS.build("vcg_rotation")), batch_size=4,
     ).fit(x(leads=12), fs=FS, leads=list(reversed(STANDARD_LEADS))), ValueError,
     "needs the standard 12-lead order"),
    # -- evaluation and embedding
    ("label_fraction 0", lambda: ecgssl.evaluate(encoder(), labeled(), label_fraction=0.0),
     ValueError, r"label_fraction must be in \(0, 1\], got 0.0"),
    ("label_fraction < 0", lambda: ecgssl.evaluate(encoder(), labeled(), label_fraction=-0.1),
     ValueError, "label_fraction must lie in"),
    ("label_fraction > 1", lambda: ecgssl.evaluate(encoder(), labeled(), label_fraction=1.5),
     ValueError, "label_fraction must lie in"),
    ("label_fraction NaN", lambda: ecgssl.evaluate(encoder(), labeled(), label_fraction=float("nan")),
     ValueError, "label_fraction must lie in"),
    ("NaN signals to embed", lambda: ecgssl.embed(encoder(), with_value(float("nan"))), ValueError,
     "signals to embed contains 1 NaN"),
    ("wrong leads to embed", lambda: ecgssl.embed(encoder(), x(leads=12)), ValueError,
     "has 12 leads, but 3 are expected"),
    ("NaN records in load_arrays", lambda: load_arrays(with_value(float("nan")).numpy(), FS),
     ValueError, r"1 of 16 records contain NaN or Inf values \(first: \[3\]\)"),
    # -- names and numbers
    ("unknown method", lambda: ecgssl.pretrain(method="byl"), KeyError, "byol"),
    ("unknown training option", lambda: trainer(learning_rate=0.1), TypeError,
     "unknown Pretrainer option"),
    ("int beyond int64", lambda: check_positive(10**30, "max_mv"), ValueError, "max_mv"),
    ("pair beyond float range", lambda: check_range_pair((0, 10**400), "scale", 0, 1), ValueError,
     "scale must be a pair of finite numbers"),
    ("bool as integer", lambda: check_int(True, "order", 1), ValueError, "order must be an integer"),
    ("float as integer", lambda: AUGMENTATIONS.build({"name": "lowpass", "order": 2.5}), ValueError,
     "order must be an integer"),
    ("absurd filter order", lambda: AUGMENTATIONS.build({"name": "bandpass", "order": 10**9}),
     ValueError, r"order must be an integer in \[1, 16\]"),
    ("absurd harmonics", lambda: AUGMENTATIONS.build({"name": "powerline", "harmonics": 10**6}),
     ValueError, "harmonics"),
    ("absurd DC offset", lambda: AUGMENTATIONS.build({"name": "baseline_shift", "max_mv": 1e38}),
     ValueError, "max_mv must lie in"),
    ("absurd crop", lambda: AUGMENTATIONS.build({"name": "random_crop", "seconds": 1e300}),
     ValueError, "seconds must lie in"),
    ("NaN selection weight", lambda: AUGMENTATIONS.build(
        {"name": "one_of", "transforms": ["noise", "scale"], "weights": [1, float("nan")]}),
     ValueError, "finite non-negative"),
]  # fmt: skip


@pytest.mark.parametrize("call, error, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_an_error_naming_the_problem(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_float64_and_numpy_inputs_are_accepted():
    result = trainer().fit(x(dtype=torch.float64).numpy(), fs=FS)
    assert result.history and result.signal["n_records"] == 16


def test_selecting_leads_by_name_reorders_them():
    result = trainer().fit(dataset(leads=("V1", "II", "I")), leads=["I", "II", "V1"])
    assert result.signal["leads"] == ["I", "II", "V1"]
