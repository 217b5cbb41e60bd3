"""CLOCS-specific properties: segments and leads as views, patient ids, encoder checks."""

from __future__ import annotations

import pytest
import torch

from ecgssl.methods import CLOCS, SSLMethod, clocs_loss
from ecgssl.registry import ENCODERS


def small_encoder(shared: bool = False):
    torch.manual_seed(0)
    return ENCODERS.build("multibranch", n_leads=3, per_lead_dim=16, width=4, shared_weights=shared)


def small_method(mode: str = "cmsc", **kwargs) -> CLOCS:
    return CLOCS(small_encoder(), mode=mode, proj_hidden_dim=32, proj_dim=8, **kwargs)


def views(b: int = 6, t: int = 96):
    g = torch.Generator().manual_seed(1)
    return torch.randn(b, 3, t, generator=g), torch.randn(b, 3, t, generator=g)


def test_cmsc_contrasts_adjacent_halves_of_each_view():
    method = small_method("cmsc", temperature=0.2)
    v1, v2 = views(t=97)  # odd length: the last sample is left out
    out = method.training_step(v1, v2)

    def emb(x):
        return method.projector(method.encoder(x))

    method_parts = torch.cat([v1[..., :48], v1[..., 48:96], v2[..., :48], v2[..., 48:96]])
    e = emb(method_parts).split(6)
    expected = (
        clocs_loss(torch.stack([e[0], e[1]], dim=1), 0.2)
        + clocs_loss(torch.stack([e[2], e[3]], dim=1), 0.2)
    ) / 2
    torch.testing.assert_close(out["loss"], expected)


def test_cmlc_contrasts_the_leads_of_each_view():
    method = small_method("cmlc")
    v1, v2 = views()
    out = method.training_step(v1, v2)
    e = method.projector(method.encoder.forward_leads(torch.cat([v1, v2])))
    expected = (clocs_loss(e[:6], 0.1) + clocs_loss(e[6:], 0.1)) / 2
    torch.testing.assert_close(out["loss"], expected)


def test_cmsmlc_uses_every_segment_and_lead():
    method = small_method("cmsmlc")
    v1, v2 = views()
    out = method.training_step(v1, v2)
    parts = torch.cat([v1[..., :48], v1[..., 48:], v2[..., :48], v2[..., 48:]])
    e = method.projector(method.encoder.forward_leads(parts)).split(6)  # (6, 3, 8) each
    expected = (
        clocs_loss(torch.cat([e[0], e[1]], dim=1), 0.1)
        + clocs_loss(torch.cat([e[2], e[3]], dim=1), 0.1)
    ) / 2
    torch.testing.assert_close(out["loss"], expected)


@pytest.mark.parametrize("mode", ["cmsc", "cmlc", "cmsmlc"])
def test_patient_ids_make_same_patient_records_positives(mode):
    method = small_method(mode)
    v1, v2 = views()
    method.eval()  # fixed BatchNorm statistics: only the positives change between the calls
    plain = method.training_step(v1, v2)["loss"]
    distinct = method.training_step(v1, v2, patient_ids=torch.arange(6))["loss"]
    shared = method.training_step(v1, v2, patient_ids=torch.tensor([0, 0, 1, 1, 2, 2]))["loss"]
    torch.testing.assert_close(plain, distinct)
    assert not torch.allclose(plain, shared)


def test_declares_that_it_uses_patient_ids():
    assert CLOCS.uses_patient_ids
    assert not SSLMethod.uses_patient_ids


def test_flat_encoders_work_for_cmsc_only():
    torch.manual_seed(0)
    resnet = ENCODERS.build("resnet1d", n_leads=3)
    CLOCS(resnet, mode="cmsc", proj_hidden_dim=16, proj_dim=8).training_step(*views())
    with pytest.raises(ValueError, match="multi-branch"):
        CLOCS(resnet, mode="cmlc")


def test_shared_heads_follow_the_encoder():
    assert CLOCS(small_encoder(shared=True), mode="cmlc").projector.shared
    assert not CLOCS(small_encoder(shared=False), mode="cmlc").projector.shared
    assert CLOCS(small_encoder(), mode="cmlc", shared_heads=True).hparams["shared_heads"]


def test_windows_too_short_for_two_segments_raise():
    method = small_method("cmsc")
    with pytest.raises(ValueError, match="halves"):
        method.training_step(*views(t=12))


def test_fixed_length_encoders_are_refused_for_segments():
    enc = small_encoder()
    enc.input_length = 96  # an encoder that accepts exactly one window length
    with pytest.raises(ValueError, match="half-length"):
        CLOCS(enc, mode="cmsc")
    CLOCS(enc, mode="cmlc")  # leads keep the full window


@pytest.mark.parametrize(
    "kwargs, match",
    [({"mode": "cmxc"}, "mode"), ({"temperature": 0.0}, "temperature"),
     ({"temperature": -0.1}, "temperature")],
)  # fmt: skip
def test_bad_hyperparameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CLOCS(small_encoder(), **kwargs)


def test_cmlc_needs_two_leads():
    torch.manual_seed(0)
    one_lead = ENCODERS.build("multibranch", n_leads=1, per_lead_dim=8, width=4)
    with pytest.raises(ValueError, match="at least 2 leads"):
        CLOCS(one_lead, mode="cmlc")
