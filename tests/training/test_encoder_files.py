"""``ecgssl.load_encoder`` reads every format ecgssl writes and never unpickles code."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

import ecgssl
from ecgssl.cli import main
from ecgssl.training import CheckpointMismatchError, EncoderFileError, read_encoder

FS, LEADS = 50.0, ["I", "II", "V1"]
TINY = {"name": "multibranch", "width": 4, "per_lead_dim": 8}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    torch.manual_seed(0)
    x = torch.randn(24, 3, 100)
    data = ecgssl.load_dataset("arrays", signals=x.numpy(), fs=FS, leads=LEADS, name="toy")
    ckpt = tmp_path_factory.mktemp("ckpt")
    return ecgssl.pretrain("bell", data, TINY, epochs=1, batch_size=8, window_seconds=1.0,
                           progress=False, checkpoint_dir=str(ckpt))  # fmt: skip


def write_folder(result, tmp_path):
    return result.save_pretrained(tmp_path / "encoder")


def write_encoder_folder(result, tmp_path):
    return result.encoder.save_pretrained(tmp_path / "plain", signal=result.signal)


def write_checkpoint(result, tmp_path):
    return result.checkpoint_path


def write_legacy_encoder_pt(result, tmp_path):
    """The ``encoder.pt`` of ``ecgssl pretrain --out`` before the folder format."""
    path = tmp_path / "encoder.pt"
    torch.save({"encoder": result.encoder.config, "state_dict": result.encoder.state_dict(),
                "method": {"name": "bell", "hparams": dict(result.method.hparams)},
                "signal": dict(result.signal), "preprocessing": None,
                "normalisation": None}, path)  # fmt: skip
    return path


WRITERS = [write_folder, write_encoder_folder, write_checkpoint, write_legacy_encoder_pt]


@pytest.mark.parametrize("write", WRITERS, ids=lambda w: w.__name__[len("write_") :])
def test_load_encoder_reads_every_format(result, tmp_path, write):
    path = write(result, tmp_path)
    enc = ecgssl.load_encoder(path, fs=FS, leads=LEADS, encoder=result.encoder.config)
    for key, value in result.encoder.state_dict().items():
        assert torch.equal(enc.state_dict()[key], value), key
    _, card = read_encoder(path)
    assert card["fs"] == FS and card["leads"] == LEADS and card["encoder"] == result.encoder.config
    if write is not write_encoder_folder:
        assert card["method"]["name"] == "bell"
    with pytest.raises(CheckpointMismatchError, match=r"fs 50\.0 != requested fs 100"):
        ecgssl.load_encoder(path, fs=100)
    with pytest.raises(CheckpointMismatchError, match="lead order"):
        ecgssl.load_encoder(path, leads=["V1", "II", "I"])


def test_result_folder_card_names_method_and_dataset(result, tmp_path):
    _, card = read_encoder(write_folder(result, tmp_path))
    assert card["dataset"] == "toy" and card["method"]["hparams"]["gamma"] == 0.8
    assert card["window_samples"] == 50


def test_load_encoder_into_an_instance(result, tmp_path):
    folder = write_folder(result, tmp_path)
    target = ecgssl.build_encoder(TINY, 3)
    assert ecgssl.load_encoder(folder, encoder=target) is target
    for key, value in result.encoder.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_cli_pretrain_out_writes_a_folder_that_loads(tmp_path, capsys):
    x = torch.randn(24, 3, 100)
    archive = tmp_path / "toy.npz"
    np.savez(archive, X=x.numpy(), fs=FS, leads=np.array(LEADS))
    code = main(["pretrain", "--dataset", "npz", "--root", str(archive), "--steps", "2",
                 "--batch-size", "8", "--encoder", '{"name": "multibranch", "width": 4, '
                 '"per_lead_dim": 8}', "--device", "cpu", "--window", "1", "--no-progress",
                 "--out", str(tmp_path / "run")])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    folder = tmp_path / "run" / "encoder"
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    assert not (tmp_path / "run" / "encoder.pt").exists()
    enc = ecgssl.load_encoder(folder, fs=FS, leads=LEADS)
    assert enc.config["name"] == "multibranch"


class _Payload:
    """Unpickling this would create a folder: a stand-in for arbitrary code execution."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_pickle_bearing_files_are_refused_without_running_them(result, tmp_path):
    marker = tmp_path / "pwned"
    state = dict(result.encoder.state_dict())
    torch_file = tmp_path / "evil.pt"
    torch.save({"encoder": result.encoder.config, "state_dict": state,
                "extra": _Payload(str(marker))}, torch_file)  # fmt: skip
    raw_pickle = tmp_path / "evil.pkl"
    raw_pickle.write_bytes(pickle.dumps(_Payload(str(marker))))
    for path in (torch_file, raw_pickle):
        with pytest.raises(EncoderFileError, match="not an ecgssl encoder file or corrupt") as err:
            ecgssl.load_encoder(path)
        assert "weights_only" not in str(err.value) and "arbitrary code" not in str(err.value)
        assert "\n" not in str(err.value)
    assert not marker.exists()
    assert main(["embed", str(torch_file), "--out", str(tmp_path / "e.npy")]) == 2


def test_foreign_and_corrupt_files_are_clear(result, tmp_path):
    cases = {
        "random.pt": os.urandom(256),
        "empty.pt": b"",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(EncoderFileError, match="not an ecgssl encoder file or corrupt"):
            ecgssl.load_encoder(tmp_path / name)
    bare = tmp_path / "bare.pt"  # what docs/distributed.md used to write
    torch.save(result.encoder.state_dict(), bare)
    with pytest.raises(EncoderFileError, match=r"bare state_dict.*save_pretrained"):
        ecgssl.load_encoder(bare)
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(EncoderFileError, match="a Tensor that is no ecgssl"):
        ecgssl.load_encoder(tensor)
    with pytest.raises(FileNotFoundError, match="no encoder file"):
        ecgssl.load_encoder(tmp_path / "missing.pt")
