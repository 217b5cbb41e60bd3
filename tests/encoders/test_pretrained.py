"""The encoder folder (config.json + model.safetensors): exact round trip, card, clear errors."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

import ecgssl
from ecgssl.encoders.pretrained import CONFIG_NAME, WEIGHTS_NAME, EncoderFileError, load_pretrained

SPECS = [
    {"name": "multibranch", "width": 4, "per_lead_dim": 8},
    {"name": "multibranch", "width": 4, "per_lead_dim": 8, "shared_weights": True},
    {"name": "resnet1d", "width": 8},
    {"name": "inception1d"},
]


def trained_like(spec: dict, n_leads: int = 3) -> ecgssl.encoders.Encoder:
    """An encoder with non-default weights and BatchNorm statistics."""
    torch.manual_seed(0)
    enc = ecgssl.build_encoder(spec, n_leads)
    with torch.no_grad():
        for p in enc.parameters():
            p.add_(0.01 * torch.randn_like(p))
        enc.train()(torch.randn(4, n_leads, 200))  # updates running stats and counters
    return enc.eval()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: "-".join(map(str, s.values())))
def test_folder_round_trips_bit_for_bit(spec, tmp_path):
    enc = trained_like(spec)
    folder = enc.save_pretrained(tmp_path / "enc")
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]
    loaded = ecgssl.load_encoder(folder)
    assert loaded.config == enc.config and not loaded.training
    want, got = enc.state_dict(), loaded.state_dict()
    assert list(got) == list(want)
    for key, value in want.items():
        assert got[key].dtype == value.dtype and torch.equal(got[key], value), key
    x = torch.randn(2, 3, 200)
    assert torch.equal(loaded(x), enc(x))


def test_card_and_weights_are_readable_without_ecgssl(tmp_path):
    enc = trained_like(SPECS[0])
    signal = {"fs": 100.0, "leads": ["I", "II", "V1"], "window_seconds": 2.5,
              "window_samples": 250, "preprocessing": {"bandpass_hz": [0.5, 40.0]}}  # fmt: skip
    enc.save_pretrained(tmp_path, signal=signal, method={"name": "bell", "hparams": {"gamma": 0.8}},
                        normalisation="per-lead z-score", dataset="ptbxl")  # fmt: skip
    card = json.loads((tmp_path / CONFIG_NAME).read_text())
    assert card["format"] == "ecgssl-encoder" and card["ecgssl_version"] == ecgssl.__version__
    assert card["encoder"] == enc.config and card["fs"] == 100.0
    assert card["leads"] == ["I", "II", "V1"] and card["window_samples"] == 250
    assert card["preprocessing"] == {"bandpass_hz": [0.5, 40.0]}
    assert card["normalisation"] == "per-lead z-score" and card["dataset"] == "ptbxl"
    assert card["method"] == {"name": "bell", "hparams": {"gamma": 0.8}}
    assert card["input"]["n_leads"] == 3 and card["output"]["output_dim"] == enc.output_dim
    with safe_open(str(tmp_path / WEIGHTS_NAME), framework="pt") as f:
        assert set(f.keys()) == set(enc.state_dict())
        assert f.metadata()["format"] == "ecgssl-encoder"
    # saving again replaces both files; the folder may be given by either file
    enc.save_pretrained(tmp_path)
    loaded, card2 = load_pretrained(tmp_path / WEIGHTS_NAME)
    assert card2["fs"] is None and loaded.config == enc.config


def test_damaged_or_foreign_folders_give_clear_errors(tmp_path):
    enc = trained_like(SPECS[2])
    folder = enc.save_pretrained(tmp_path / "enc")
    weights, config = folder / WEIGHTS_NAME, folder / CONFIG_NAME
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])  # truncated download
    with pytest.raises(EncoderFileError, match="not an ecgssl encoder file or corrupt"):
        ecgssl.load_encoder(folder)
    weights.write_bytes(b"\x00" * 64)
    with pytest.raises(EncoderFileError, match="unreadable safetensors"):
        ecgssl.load_encoder(folder)
    enc.save_pretrained(folder)
    card = json.loads(config.read_text())
    config.write_text(json.dumps({**card, "encoder": {**card["encoder"], "width": 16}}))
    with pytest.raises(EncoderFileError, match="weights do not fit"):
        ecgssl.load_encoder(folder)
    config.write_text(json.dumps({"architectures": ["BertModel"]}))  # another library's card
    with pytest.raises(EncoderFileError, match="format"):
        ecgssl.load_encoder(folder)
    config.write_text("{not json")
    with pytest.raises(EncoderFileError, match="unreadable JSON"):
        ecgssl.load_encoder(folder)
    weights.unlink()
    with pytest.raises(FileNotFoundError, match=r"no model\.safetensors"):
        ecgssl.load_encoder(folder)
    with pytest.raises(FileNotFoundError, match=r"without config\.json"):
        ecgssl.load_encoder(tmp_path)
