"""The user entry points: pretrain, evaluate, embed, build_encoder, load_dataset, list_*."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ecgssl

from .toy_data import FS, TINY, toy_dataset


def quick(**kw):
    options = {"encoder": TINY, "epochs": 2, "batch_size": 8, "device": "cpu", "progress": False,
               "window_seconds": 3.0}  # fmt: skip
    return ecgssl.pretrain(dataset=toy_dataset(), **{**options, **kw})


@pytest.mark.parametrize("method", ["bell", "byol", "simclr"])
def test_pretrain_evaluate_embed(method):
    result = quick(method=method)
    assert len(result.history) == 2 and np.isfinite(result.final_loss)
    assert result.signal["fs"] == FS and result.signal["leads"] == [
        "lead0",
        "lead1",
        "lead2",
        "lead3",
    ]
    probe = ecgssl.evaluate(result, dataset=toy_dataset(), device="cpu")
    assert 0.0 <= probe.macro_auroc <= 1.0 and probe.n_test == 15
    feats = ecgssl.embed(result, toy_dataset().signals[:5], device="cpu")
    assert feats.shape == (5, result.encoder.output_dim) and np.isfinite(feats).all()
    per_lead = ecgssl.embed(result.encoder, toy_dataset().signals[:5], device="cpu", per_lead=True)
    assert per_lead.shape == (5, 4, 8)


def test_pretrain_is_seeded():
    a, b = quick(method="bell", seed=3), quick(method="bell", seed=3)
    for (k, va), vb in zip(a.encoder.state_dict().items(), b.encoder.state_dict().values()):
        torch.testing.assert_close(va, vb, rtol=0, atol=0, msg=k)


def test_method_options_reach_the_method_and_config():
    result = quick(method="bell", gamma=0.5, inter_pairs="random", lr=3e-3)
    assert result.method.hparams["gamma"] == 0.5
    assert result.method.hparams["inter_pairs"] == "random"
    assert result.config.lr == 3e-3


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"method": "belll"}, KeyError, "bell"),
        ({"method": "bell", "encoder": {"name": "resnet"}}, KeyError, "resnet1d"),
        ({"method": "bell", "gamma": 1.5}, ValueError, "gamma"),
        ({"method": "bell", "gamma": -0.1}, ValueError, "gamma"),
        ({"method": "simclr", "temperature": 0.0}, ValueError, "temperature"),
        ({"method": "bell", "lr": 0.0}, ValueError, "lr"),
        ({"method": "bell", "lr": -1e-3}, ValueError, "lr"),
        ({"method": "bell", "epochs": 0}, ValueError, "epochs"),
        ({"method": "bell", "batch_size": 1000}, ValueError, "batch_size"),
        ({"method": "bell", "window_seconds": 10.0}, ValueError, "samples"),
        ({"method": "bell", "learning_rate": 1e-3}, TypeError, "unknown option"),
        ({"method": "bell", "encoder": {"name": "resnet1d"}}, ValueError, "multi-branch"),
    ],
)
def test_bad_pretrain_arguments_name_the_problem(kwargs, error, match):
    with pytest.raises(error, match=match):
        quick(**kwargs)


def test_nan_in_the_data_is_refused_with_the_record():
    ds = toy_dataset()
    x = ds.signals.copy()
    x[7, 2, 30] = np.nan
    with pytest.raises(ValueError, match=r"NaN.*\[7\]"):
        ecgssl.load_dataset("arrays", signals=x, fs=FS)
    with pytest.raises(ValueError, match="NaN"):
        ecgssl.embed(ecgssl.build_encoder(TINY, 4), x, device="cpu")


def test_wrong_lead_count_for_an_encoder():
    enc = ecgssl.build_encoder(TINY, 12)
    with pytest.raises(ValueError, match="12 leads"):
        ecgssl.build_encoder(enc, 4)
    with pytest.raises(ValueError, match="leads"):
        ecgssl.evaluate(enc, dataset=toy_dataset(), device="cpu")


@pytest.mark.parametrize("fraction", [0.0, -0.5, 1.5])
def test_bad_label_fraction(fraction):
    enc = ecgssl.build_encoder(TINY, 4)
    with pytest.raises(ValueError, match="label_fraction"):
        ecgssl.evaluate(enc, dataset=toy_dataset(), label_fraction=fraction, device="cpu")


def test_list_helpers():
    assert {"bell", "byol", "simclr"} <= set(ecgssl.list_methods())
    assert {"multibranch", "resnet1d", "inception1d"} <= set(ecgssl.list_encoders())
    assert {"synthetic", "arrays"} <= set(ecgssl.list_datasets())
    assert len(ecgssl.list_augmentations()) >= 14
