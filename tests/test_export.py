"""Exported TorchScript encoders reproduce ``ecgssl.embed`` and carry a signal card."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import ecgssl
from ecgssl.export import load_encoder_file

TINY = {"name": "multibranch", "width": 8, "per_lead_dim": 16}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    data = ecgssl.load_dataset("synthetic", n_records=40, progress=False)
    ckpt = tmp_path_factory.mktemp("ckpt")
    return data, ecgssl.pretrain(
        "bell", data, TINY, epochs=1, batch_size=16, progress=False, checkpoint_dir=str(ckpt)
    )


def test_export_reproduces_embed_and_writes_the_card(result, tmp_path):
    data, res = result
    files = ecgssl.export(res, tmp_path / "bell")
    assert files.torchscript.name == "bell.pt" and files.card.name == "bell.json"
    assert files.onnx is None or files.onnx.exists()
    model, card = ecgssl.load_exported(files.torchscript)
    # whole 5 s records although the model was traced on 2.5 s training windows
    x = data.signals[:5]
    got = model(torch.as_tensor(x, dtype=torch.float32)).detach().numpy()
    np.testing.assert_allclose(got, ecgssl.embed(res, x), rtol=1e-5, atol=1e-6)
    assert card == json.loads(files.card.read_text())
    assert card["fs"] == data.fs and card["leads"] == list(data.leads)
    assert card["window_samples"] == 250 and card["window_seconds"] == pytest.approx(2.5)
    assert card["method"]["name"] == "bell" and card["method"]["hparams"]["gamma"] == 0.8
    assert card["encoder"] == res.encoder.config
    assert card["input"]["layout"] == "(batch, leads, time)"
    assert card["output"]["output_dim"] == res.encoder.output_dim
    assert {"preprocessing", "normalisation"} <= set(card)
    # plain torch loads it without ecgssl's help
    plain = torch.jit.load(str(files.torchscript))
    assert plain(torch.as_tensor(x, dtype=torch.float32)).shape == got.shape


def test_export_from_a_checkpoint_file(result, tmp_path):
    data, res = result
    assert res.checkpoint_path is not None
    enc, card = load_encoder_file(res.checkpoint_path)
    assert card["method"]["name"] == "bell" and card["fs"] == data.fs
    files = ecgssl.export(res.checkpoint_path, tmp_path / "from_ckpt.pt")
    model, card2 = ecgssl.load_exported(tmp_path / "from_ckpt")
    x = torch.as_tensor(data.signals[:3], dtype=torch.float32)
    np.testing.assert_allclose(
        model(x).detach().numpy(), ecgssl.embed(enc, x), rtol=1e-5, atol=1e-6
    )
    assert card2["leads"] == list(data.leads) and files.card.exists()


def test_export_a_bare_encoder_and_errors(tmp_path):
    enc = ecgssl.build_encoder({"name": "resnet1d", "width": 8}, 3)
    files = ecgssl.export(enc, tmp_path / "r", onnx=False)
    model, card = ecgssl.load_exported(files.torchscript)
    assert card["fs"] is None and card["method"] is None and card["input"]["n_leads"] == 3
    x = torch.randn(2, 3, 300)
    np.testing.assert_allclose(model(x).detach().numpy(), ecgssl.embed(enc, x), atol=1e-6)
    assert enc.training  # export leaves the caller's module as it was
    with pytest.raises(FileNotFoundError, match="no exported file"):
        ecgssl.load_exported(tmp_path / "missing.pt")
    with pytest.raises(FileNotFoundError, match="no encoder file"):
        ecgssl.export(tmp_path / "nope.pt", tmp_path / "x")
    with pytest.raises(TypeError, match="export expects"):
        ecgssl.export(42, tmp_path / "x")  # type: ignore[arg-type]
    bad = tmp_path / "bad.pt"
    torch.save({"weights": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="not an ecgssl encoder file or corrupt"):
        ecgssl.export(bad, tmp_path / "x")


def test_onnx_required_but_missing_is_clear(tmp_path):
    pytest.importorskip("torch")
    try:
        import onnx  # noqa: F401

        pytest.skip("onnx is installed")
    except ImportError:
        pass
    enc = ecgssl.build_encoder({"name": "resnet1d", "width": 8}, 3)
    with pytest.raises(ImportError, match="pip install onnx"):
        ecgssl.export(enc, tmp_path / "r", onnx=True)
