"""Every subcommand: --help with examples, one-line errors, embed / export / evaluate / datasets."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import ecgssl
from ecgssl.cli import main

COMMANDS = [[], ["pretrain"], ["evaluate"], ["compare"], ["embed"], ["export"], ["list"],
            ["datasets"], ["datasets", "list"], ["datasets", "prepare"]]  # fmt: skip


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "ecgssl")
def test_help_works_and_shows_examples(cmd, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*cmd, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: ecgssl") and "example" in out


def test_console_entry_point_help():
    proc = subprocess.run([sys.executable, "-m", "ecgssl", "--help"], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0 and "pretrain" in proc.stdout and "export" in proc.stdout


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["pretrian"], "invalid choice"),
        (["pretrain", "--epochs", "two"], "invalid int value"),
        (["list", "models"], "invalid choice"),
        (["embed", "missing.pt", "--out", "x.npy"], "no encoder file"),
        (["embed", "missing.pt", "--out", "x.csv"], ".npy or .npz"),
        (["export", "missing.pt", "--out", "x"], "no encoder file"),
        (["export", "missing.pt", "--out", "x", "--format", "jit"], "invalid choice"),
        (["evaluate", "missing.pt"], "no encoder file"),
        (["datasets", "prepare", "ptbxll"], "ptbxl"),
        (["compare", "--seeds", "a,b"], "--seeds"),
    ],
)
def test_user_errors_are_one_line_exit_2(argv, match, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ecgssl: error:") and "\n" not in err and match in err, err


def test_debug_raises_parse_and_run_errors():
    with pytest.raises(FileNotFoundError):
        main(["--debug", "export", "missing.pt", "--out", "x"])


@pytest.fixture(scope="module", params=["folder", "encoder.pt"])
def encoder_file(request, tmp_path_factory):
    """An encoder folder as ``ecgssl pretrain --out`` writes it, or a legacy ``encoder.pt``
    (untrained weights)."""
    data = ecgssl.load_dataset("synthetic", n_records=40, progress=False)
    torch.manual_seed(0)
    enc = ecgssl.build_encoder({"name": "multibranch", "width": 8, "per_lead_dim": 16}, 12)
    method = {"name": "bell", "hparams": {"gamma": 0.8}}
    signal = {"fs": data.fs, "leads": list(data.leads), "window_samples": 250}
    run = tmp_path_factory.mktemp("run")
    if request.param == "folder":
        path = enc.save_pretrained(run / "encoder", signal=signal, method=method)
    else:
        path = run / "encoder.pt"
        torch.save({"encoder": enc.config, "state_dict": enc.state_dict(), "method": method,
                    "signal": signal, "preprocessing": None, "normalisation": None}, path)  # fmt: skip
    return data, enc.eval(), path


def test_embed_writes_the_embeddings(encoder_file, tmp_path, capsys):
    data, enc, path = encoder_file
    out = tmp_path / "f.npz"
    argv = ["embed", str(path), "--n-records", "40", "--no-progress", "--split", "test"]
    assert main([*argv, "--out", str(out)]) == 0
    z = np.load(out)
    test = data.subset("test")
    np.testing.assert_allclose(z["embeddings"], ecgssl.embed(enc, test.signals), atol=1e-6)
    assert z["labels"].shape[0] == len(test) and list(z["leads"]) == list(data.leads)
    assert main([*argv, "--per-lead", "--out", str(tmp_path / "l.npy")]) == 0
    assert np.load(tmp_path / "l.npy").shape == (len(test), 12, 16)


def test_embed_refuses_other_leads(encoder_file, tmp_path, capsys):
    data, _, path = encoder_file
    npz = tmp_path / "x.npz"
    np.savez(npz, signals=data.signals[:4], fs=np.float64(250.0))
    assert main(["embed", str(path), "--npz", str(npz), "--out", str(tmp_path / "e.npy")]) == 2
    assert "Hz" in capsys.readouterr().err


def test_export_command_matches_embed(encoder_file, tmp_path, capsys):
    data, enc, path = encoder_file
    assert main(["export", str(path), "--out", str(tmp_path / "m")]) == 0
    assert "wrote" in capsys.readouterr().out
    model, card = ecgssl.load_exported(tmp_path / "m.pt2")
    x = torch.as_tensor(data.signals[:3])
    np.testing.assert_allclose(model(x).detach().numpy(), ecgssl.embed(enc, x), atol=1e-6)
    assert card["method"] == {"name": "bell", "hparams": {"gamma": 0.8}}
    assert card["fs"] == data.fs and card["window_samples"] == 250
    assert card["export"]["format"] == "pt2"


def test_export_command_onnx(encoder_file, tmp_path, capsys):
    for module in ("onnx", "onnxscript", "onnxruntime"):
        pytest.importorskip(
            module, reason=f"{module} is not installed (pip install 'ecgssl[onnx]')"
        )
    import onnxruntime as ort

    data, enc, path = encoder_file
    assert main(["export", str(path), "--out", str(tmp_path / "m"), "--format", "onnx"]) == 0
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    x = np.asarray(data.signals[:3], dtype=np.float32)
    np.testing.assert_allclose(session.run(None, {"ecg": x})[0], ecgssl.embed(enc, x), atol=1e-4)


def test_evaluate_command_writes_metrics(encoder_file, tmp_path, capsys):
    _, _, path = encoder_file
    out = tmp_path / "probe.json"
    argv = ["evaluate", str(path), "--n-records", "40", "--protocol", "knn", "--baseline",
            "--label-fractions", "0.5,1", "--no-progress", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads(out.read_text())
    assert [r["label_fraction"] for r in summary["results"]] == [0.5, 1.0]
    for row in summary["results"]:
        assert 0 <= row["encoder"]["macro_auroc"] <= 1
        assert 0 <= row["random_init"]["macro_auroc"] <= 1
    assert summary["card"]["method"]["name"] == "bell"


def test_datasets_list_and_prepare(capsys):
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    assert "ptbxl" in out and "synthetic" in out and "simulated" in out
    assert main(["datasets", "prepare", "synthetic", "--n-records", "40", "--no-progress"]) == 0
    assert "synthetic: 40 records" in capsys.readouterr().out


def test_plot_history_draws_loss_lr_and_health(tmp_path):
    pytest.importorskip("matplotlib")
    from ecgssl.cli.plot import plot_history

    history = [{"epoch": e, "loss": 1 / e, "intra": 0.5 / e, "lr": 1e-3 * e, "momentum": 0.99,
                "seconds": 1.0, "samples_per_s": 10.0, "effective_rank": 3.0 + e}
               for e in (1, 2, 3)]  # fmt: skip
    png = plot_history(history, tmp_path / "sub" / "curves.png", title="bell")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="empty"):
        plot_history([], tmp_path / "x.png")


def test_plot_without_matplotlib_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["pretrain", "--plot", "--no-progress"]) == 2
    assert "pip install 'ecgssl[plot]'" in capsys.readouterr().err


def test_pretrain_on_unlabeled_data_with_a_step_budget(tmp_path, capsys):
    rng = np.random.default_rng(0)
    archive = tmp_path / "unlabeled.npz"
    np.savez(archive, X=rng.normal(size=(40, 3, 200)).astype(np.float32), fs=50.0,
             leads=np.array(["I", "II", "V1"]))  # fmt: skip
    encoder = json.dumps({"name": "multibranch", "width": 4, "per_lead_dim": 8})
    code = main(["pretrain", "--dataset", "npz", "--root", str(archive), "--steps", "3",
                 "--batch-size", "8", "--encoder", encoder, "--device", "cpu", "--window", "2",
                 "--no-progress", "--out", str(tmp_path / "run")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "for 3 steps" in out and "no labels" in out
    assert (
        ecgssl.load_encoder(tmp_path / "run" / "encoder", fs=50.0).config["name"] == "multibranch"
    )
