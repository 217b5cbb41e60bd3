"""Exported programs (torch.export .pt2, ONNX) reproduce ``ecgssl.embed`` and carry a card."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import ecgssl
from ecgssl.export import ExportedFiles

TINY = {"name": "multibranch", "width": 8, "per_lead_dim": 16}
# Real records beside the project (../shared/data, see its README); ECGSSL_SHARED_DATA overrides.
SHARED = Path(
    os.environ.get("ECGSSL_SHARED_DATA")
    or Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
)
PTBXL_DEV = "ptbxl_super_100hz_dev.npz"


def export_without_deprecations(*args, **kwargs) -> ExportedFiles:
    """``ecgssl.export`` with every DeprecationWarning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        return ecgssl.export(*args, **kwargs)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    data = ecgssl.load_dataset("synthetic", n_records=40, progress=False)
    ckpt = tmp_path_factory.mktemp("ckpt")
    return data, ecgssl.pretrain(
        "bell", data, TINY, epochs=1, batch_size=16, progress=False, checkpoint_dir=str(ckpt)
    )


def test_pt2_export_reproduces_embed_and_writes_the_card(result, tmp_path):
    data, res = result
    files = export_without_deprecations(res, tmp_path / "bell")
    assert files.program.name == "bell.pt2" and files.card.name == "bell.json"
    assert files.format == "pt2"
    model, card = ecgssl.load_exported(files.program)
    # whole 5 s records although the graph was captured on 2.5 s training windows
    x = torch.as_tensor(data.signals[:5], dtype=torch.float32)
    got = model(x).detach().numpy()
    np.testing.assert_allclose(got, ecgssl.embed(res, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(x[:1]).detach().numpy(), got[:1], rtol=1e-5, atol=1e-6)
    assert card == json.loads(files.card.read_text())
    assert card["fs"] == data.fs and card["leads"] == list(data.leads)
    assert card["window_samples"] == 250 and card["window_seconds"] == pytest.approx(2.5)
    assert card["method"]["name"] == "bell" and card["method"]["hparams"]["gamma"] == 0.8
    assert card["encoder"] == res.encoder.config and card["dataset"] == data.name
    assert card["input"]["layout"] == "(batch, leads, time)"
    assert card["output"]["output_dim"] == res.encoder.output_dim
    assert card["export"]["dynamic_batch"] and card["export"]["dynamic_time"]
    assert {"preprocessing", "normalisation"} <= set(card)
    # plain torch loads it without ecgssl's help
    plain = torch.export.load(str(files.program)).module()
    assert plain(x).shape == got.shape


@pytest.mark.parametrize("source", ["checkpoint", "folder"])
def test_export_from_a_saved_encoder(result, tmp_path, source):
    data, res = result
    path = res.checkpoint_path if source == "checkpoint" else res.save_pretrained(tmp_path / "e")
    assert path is not None
    files = export_without_deprecations(path, tmp_path / "from_file.pt2")
    model, card = ecgssl.load_exported(tmp_path / "from_file")
    x = torch.as_tensor(data.signals[:3], dtype=torch.float32)
    np.testing.assert_allclose(
        model(x).detach().numpy(), ecgssl.embed(res, x), rtol=1e-5, atol=1e-6
    )
    assert card["leads"] == list(data.leads) and files.card.exists()
    assert card["method"]["name"] == "bell"


def test_fixed_time_encoder_exports_with_a_dynamic_batch(tmp_path):
    enc = ecgssl.build_encoder({"name": "resnet1d", "width": 8}, 3)
    files = export_without_deprecations(enc, tmp_path / "r", example_length=300)
    model, card = ecgssl.load_exported(files.program)
    assert card["fs"] is None and card["method"] is None and card["input"]["n_leads"] == 3
    # resnet1d's strided shortcut makes torch.export fix the length: the card says so
    assert card["export"]["example_length"] == 300
    assert isinstance(card["export"]["dynamic_time"], bool)
    for batch in (1, 4):
        x = torch.randn(batch, 3, 300)
        np.testing.assert_allclose(model(x).detach().numpy(), ecgssl.embed(enc, x), atol=1e-6)
    assert enc.training  # export leaves the caller's module as it was


def test_export_errors_are_clear(tmp_path):
    enc = ecgssl.build_encoder({"name": "resnet1d", "width": 8}, 3)
    with pytest.raises(ValueError, match=r"format must be one of \['pt2', 'onnx'\]"):
        ecgssl.export(enc, tmp_path / "x", format="torchscript")
    with pytest.raises(FileNotFoundError, match="no exported file"):
        ecgssl.load_exported(tmp_path / "missing.pt2")
    with pytest.raises(FileNotFoundError, match="no encoder file"):
        ecgssl.export(tmp_path / "nope.pt", tmp_path / "x")
    with pytest.raises(TypeError, match="export expects"):
        ecgssl.export(42, tmp_path / "x")  # type: ignore[arg-type]
    bad = tmp_path / "bad.pt"
    torch.save({"weights": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="not an ecgssl encoder file or corrupt"):
        ecgssl.export(bad, tmp_path / "x")
    (tmp_path / "old.pt").write_bytes(b"torchscript")  # an export of an older ecgssl
    with pytest.raises(ValueError, match=r"torch\.jit\.load"):
        ecgssl.load_exported(tmp_path / "old.pt")
    with pytest.raises(ValueError, match="onnxruntime"):
        ecgssl.load_exported(tmp_path / "m.onnx")


def test_onnx_without_its_packages_is_clear(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    enc = ecgssl.build_encoder({"name": "resnet1d", "width": 8}, 3)
    with pytest.raises(ImportError, match=r"pip install 'ecgssl\[onnx\]'"):
        ecgssl.export(enc, tmp_path / "r", format="onnx")


def _need_onnx() -> None:
    for module in ("onnx", "onnxscript", "onnxruntime"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install 'ecgssl[onnx]')")


def _real_records(n: int) -> tuple[np.ndarray, float]:
    path = (SHARED / PTBXL_DEV).resolve()
    if not path.is_file():
        pytest.skip(f"real records {path} not present (../shared/data, see its README)")
    with np.load(path, allow_pickle=False) as z:
        return z["X"][:n].astype(np.float32), float(z["fs"])


@pytest.mark.slow
def test_onnx_runtime_reproduces_pytorch_on_real_records(tmp_path):
    _need_onnx()
    import onnxruntime as ort

    x, fs = _real_records(8)  # 8 PTB-XL records: 12 leads, 10 s at 100 Hz
    torch.manual_seed(0)
    enc = ecgssl.build_encoder(TINY, 12)
    signal = {"fs": fs, "leads": ["I", "II", "III", "aVR", "aVL", "aVF",
                                  "V1", "V2", "V3", "V4", "V5", "V6"]}  # fmt: skip
    folder = enc.save_pretrained(tmp_path / "enc", signal=signal)
    files = export_without_deprecations(folder, tmp_path / "m", format="onnx", example_length=250)
    assert files.program.name == "m.onnx" and files.format == "onnx"
    card = json.loads(files.card.read_text())
    assert card["export"]["format"] == "onnx" and card["fs"] == fs
    session = ort.InferenceSession(str(files.program), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["ecg"]
    want = ecgssl.embed(enc, x)
    (got,) = session.run(["embedding"], {"ecg": x})  # whole 10 s records, batch of 8
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
    (one,) = session.run(None, {"ecg": x[:1]})  # batch of 1
    np.testing.assert_allclose(one, want[:1], rtol=0, atol=1e-4)


def test_pt2_reproduces_pytorch_on_real_records(tmp_path):
    x, _ = _real_records(4)
    torch.manual_seed(0)
    enc = ecgssl.build_encoder(TINY, 12)
    files = export_without_deprecations(enc, tmp_path / "m", example_length=250)
    model, _ = ecgssl.load_exported(files.program)
    got = model(torch.as_tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, ecgssl.embed(enc, x), rtol=0, atol=1e-4)


def test_old_helpers_warn_and_still_work(tmp_path):
    from ecgssl.export import load_encoder_file, signal_card

    enc = ecgssl.build_encoder({"name": "resnet1d", "width": 8}, 3)
    folder = enc.save_pretrained(tmp_path / "enc", signal={"fs": 100.0})
    with pytest.deprecated_call(match="read_encoder"):
        loaded, card = load_encoder_file(folder)
    assert card["fs"] == 100.0 and loaded.config == enc.config
    with pytest.deprecated_call(match="encoder_card"):
        assert signal_card(enc)["encoder"] == enc.config
