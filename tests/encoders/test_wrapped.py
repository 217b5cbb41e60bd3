"""Bring your own model: ``wrap_model`` turns a plain ``nn.Module`` into an Encoder that every
method can pretrain and every protocol can evaluate; its contract is checked at wrap time."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import ecgssl
from ecgssl.encoders import Encoder, WrappedEncoder, wrap_model

from ..toy_data import FS, toy_dataset

LEADS = 4  # toy_dataset's default


class FlatNet(nn.Module):
    """(batch, leads, time) -> (batch, dim): a user's model, knowing nothing of ecgssl."""

    def __init__(self, leads: int = LEADS, dim: int = 16) -> None:
        super().__init__()
        self.conv = nn.Conv1d(leads, dim, 7, padding=3)
        self.bn = nn.BatchNorm1d(dim)
        self.fc = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(torch.relu(self.bn(self.conv(x))).mean(dim=-1))


class PerLeadNet(nn.Module):
    """(batch, leads, time) -> (batch, leads, dim): one small CNN shared by every lead."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(1, dim, 7, padding=3), nn.BatchNorm1d(dim), nn.ReLU(),
            nn.AdaptiveAvgPool1d(1), nn.Flatten(),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        b, n_leads, t = x.shape
        return self.net(x.reshape(b * n_leads, 1, t)).reshape(b, n_leads, -1)


def flat(**kw) -> WrappedEncoder:
    torch.manual_seed(0)
    return wrap_model(FlatNet(), **{"output_dim": 16, "n_leads": LEADS, "fs": FS, **kw})


def per_lead(**kw) -> WrappedEncoder:
    torch.manual_seed(0)
    opts = {"output_dim": 8, "n_leads": LEADS, "fs": FS, "per_lead": True, **kw}
    return wrap_model(PerLeadNet(), **opts)


def quick(method: str, encoder: Encoder, **kw):
    opts = {"steps": 3, "batch_size": 8, "device": "cpu", "progress": False, "recipe": None,
            "window_seconds": 3.0}  # fmt: skip
    return ecgssl.pretrain(method, toy_dataset(), encoder=encoder, **{**opts, **kw})


# -- the contract ----------------------------------------------------------------------------
def test_flat_wrapper_declares_the_contract():
    enc = flat()
    assert isinstance(enc, Encoder) and ecgssl.wrap_model is wrap_model
    assert (enc.n_leads, enc.output_dim, enc.per_lead_dim, enc.fs) == (LEADS, 16, None, FS)
    assert not enc.is_multibranch
    x = torch.randn(3, LEADS, 120)
    torch.testing.assert_close(enc(x), enc.module(x))
    assert enc.config == {"name": "wrapped", "module": "FlatNet", "n_leads": LEADS,
                          "output_dim": 16, "per_lead": False, "fs": FS, "min_length": 1,
                          "input_length": None}  # fmt: skip
    assert all(k.startswith("module.") for k in enc.state_dict())
    with pytest.raises(TypeError, match="per_lead=True"):
        enc.forward_leads(x)
    with pytest.raises(ValueError, match=r"3 leads|expects 4"):
        enc(torch.randn(2, 3, 120))


def test_per_lead_wrapper_serves_lead_wise_methods():
    enc = per_lead()
    assert enc.is_multibranch and (enc.per_lead_dim, enc.output_dim) == (8, LEADS * 8)
    x = torch.randn(3, LEADS, 120)
    h = enc.forward_leads(x)
    assert h.shape == (3, LEADS, 8)
    torch.testing.assert_close(enc(x), h.flatten(1))


def test_dry_run_leaves_the_module_mode_and_statistics_alone():
    net = FlatNet()
    before = net.bn.running_mean.clone()
    wrap_model(net, output_dim=16, n_leads=LEADS, fs=FS)
    assert net.training and torch.equal(net.bn.running_mean, before)


class _ReturnsTuple(FlatNet):
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        return super().forward(x), x


class _NoParams(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.mean(-1)


@pytest.mark.parametrize(
    ("module", "kwargs", "error", "match"),
    [
        (FlatNet(), {"output_dim": 8}, ValueError, r"to \(2, 16\).*declares \(2, 8\).*output_dim=16"),
        (FlatNet(), {"per_lead": True}, ValueError, r"per_lead=False, output_dim=16"),
        (PerLeadNet(), {"output_dim": 8}, ValueError, r"\(2, 4, 8\).*per_lead=True, output_dim=8"),
        (nn.Conv1d(LEADS, 16, 3), {}, ValueError, r"\(2, 16, 123\).*pool over time"),
        (nn.Sequential(nn.Conv1d(LEADS, 2, 3), nn.Flatten(), nn.Linear(2 * 123, 16)), {},
         ValueError, r"dry forward pass .*\(2, 4, 188\).*input_length="),
        (_ReturnsTuple(), {}, TypeError, "returned a tuple"),
        (_NoParams(), {}, ValueError, "no parameters"),
        ("conv", {}, TypeError, "needs a torch.nn.Module"),
        (FlatNet(), {"fs": -1.0}, ValueError, "fs"),
        (FlatNet(), {"n_leads": 3}, ValueError, "dry forward pass"),
    ],
)  # fmt: skip
def test_wrap_time_errors_name_the_shapes(module, kwargs, error, match):
    with pytest.raises(error, match=match):
        wrap_model(module, **{"output_dim": 16, "n_leads": LEADS, "fs": FS, **kwargs})


def test_fixed_length_models_declare_input_length():
    net = nn.Sequential(nn.Conv1d(LEADS, 2, 3), nn.Flatten(), nn.Linear(2 * 148, 16))
    enc = wrap_model(net, output_dim=16, n_leads=LEADS, fs=FS, input_length=150)
    assert enc.input_length == 150 and enc(torch.randn(2, LEADS, 150)).shape == (2, 16)
    with pytest.raises(ValueError, match="150"):
        enc(torch.randn(2, LEADS, 120))


def test_plain_modules_and_wrapped_configs_are_refused_with_a_pointer():
    with pytest.raises(TypeError, match="wrap_model"):
        ecgssl.build_encoder(FlatNet(), LEADS)
    with pytest.raises(TypeError, match="wrap_model"):
        ecgssl.evaluate(FlatNet(), toy_dataset())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"cannot be rebuilt.*wrap_model\(FlatNet\(\.\.\.\)"):
        ecgssl.build_encoder(flat().config, LEADS)


# -- pretraining and evaluation ---------------------------------------------------------------
@pytest.mark.parametrize(("method", "make"), [("bell", per_lead), ("simclr", flat)])
def test_wrapped_model_pretrains_and_evaluates(method, make):
    enc = make()
    before = [p.detach().clone() for p in enc.parameters()]
    result = quick(method, enc)
    assert result.encoder is enc
    assert all(np.isfinite(h["loss"]) for h in result.history) and np.isfinite(result.final_loss)
    assert any(not torch.equal(b, p) for b, p in zip(before, enc.parameters()))
    probe = ecgssl.evaluate(result, toy_dataset(), device="cpu")
    assert 0.0 <= probe.macro_auroc <= 1.0 and probe.n_test == 15


def test_lead_wise_methods_need_per_lead_features():
    for method in ("bell", "lead_barlow"):
        with pytest.raises(ValueError, match=r"wrap_model\(\.\.\., per_lead=True\)"):
            quick(method, flat())
    with pytest.raises(ValueError, match="per_lead=True"):
        quick("clocs", flat(), mode="cmlc")


def test_sampling_rate_is_checked_in_pretraining_and_evaluation():
    with pytest.raises(ValueError, match="50 Hz but the encoder was declared for 100 Hz"):
        quick("simclr", flat(fs=100.0))
    with pytest.raises(ValueError, match="declared for 100 Hz"):
        ecgssl.evaluate(flat(fs=100.0), toy_dataset(), device="cpu")
    assert flat(fs=None).fs is None  # any rate
    quick("simclr", flat(fs=None), steps=1)


def test_checkpoint_loads_only_into_the_module_passed_again(tmp_path):
    result = quick("simclr", flat(), checkpoint_dir=str(tmp_path))
    ckpt = result.checkpoint_path
    assert ckpt is not None
    with pytest.raises(ValueError, match=r"wrapped FlatNet.*wrap_model\(FlatNet\(\.\.\.\), "
                                         r"output_dim=16, n_leads=4, fs=50.0"):  # fmt: skip
        ecgssl.load_encoder(ckpt)
    fresh = wrap_model(FlatNet(), output_dim=16, n_leads=LEADS, fs=FS)
    loaded = ecgssl.load_encoder(ckpt, encoder=fresh, fs=FS)
    assert loaded is fresh
    for (k, a), b in zip(result.encoder.state_dict().items(), loaded.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    other = wrap_model(FlatNet(), output_dim=16, n_leads=LEADS, fs=100.0)
    with pytest.raises(ecgssl.training.CheckpointMismatchError, match="fs"):
        ecgssl.load_encoder(ckpt, encoder=other)


def test_wrapped_model_exports_with_its_sampling_rate(tmp_path):
    enc = flat().eval()
    files = ecgssl.export(enc, tmp_path / "byo")
    model, card = ecgssl.load_exported(files.program)
    x = torch.randn(3, LEADS, 150)
    torch.testing.assert_close(model(x), enc(x))
    assert card["fs"] == FS and card["encoder"]["name"] == "wrapped"
