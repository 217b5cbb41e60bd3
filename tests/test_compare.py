"""The comparison runner: every cell, baselines through the same code, resume, outputs."""

from __future__ import annotations

import numpy as np
import pytest

import ecgssl
from ecgssl.compare import CompareConfig, load_results, parse_method, run_comparison

FS = 50.0


def toy(n: int = 64, noise: float = 0.3) -> ecgssl.ECGDataset:
    rng = np.random.default_rng(0)
    t = np.arange(150) / FS
    y = rng.integers(0, 2, n)
    x = np.sin(2 * np.pi * (1 + 2 * y[:, None, None]) * t + rng.uniform(0, 6, (n, 1, 1)))
    x = x + noise * rng.normal(size=(n, 3, 150))
    split = np.array(["train", "train", "val", "test"] * (n // 4))
    return ecgssl.load_dataset("arrays", signals=x, fs=FS, labels=y, split=split, name="toy")


def config(**kw) -> CompareConfig:
    base = {"methods": ["bell", "bell:gamma=0.5", "simclr", "random_init", "supervised"],
            "label_fractions": [0.25, 1.0], "seeds": [0], "epochs": 1, "batch_size": 16,
            "window_seconds": 2.0, "finetune_epochs": 2, "device": "cpu", "n_boot": 20,
            "encoder": {"name": "multibranch", "width": 4, "per_lead_dim": 8}}  # fmt: skip
    return CompareConfig(**{**base, **kw})


def test_runs_every_cell_writes_outputs_and_resumes(tmp_path):
    lines: list[str] = []

    def log(line: str) -> None:  # cells only; the few-steps warning has its own test
        if not line.startswith("warning:"):
            lines.append(line)

    with pytest.warns(UserWarning, match="optimiser steps"):
        rows = run_comparison(toy(), config(), tmp_path, progress=False, log=log)
    assert len(rows) == 5 * 2 and len(lines) == 10
    saved = load_results(tmp_path / "results.csv")
    assert [r["method"] for r in saved] == [r["method"] for r in rows]
    for r in saved:
        assert 0 <= r["macro_auroc"] <= 1 and r["protocol"] in ("linear", "finetune")
        assert r["protocol"] == ("finetune" if r["method"] == "supervised" else "linear")
    # Every row uses the same encoder budget.
    assert len({r["encoder_params"] for r in saved}) == 1
    md = (tmp_path / "results.md").read_text()
    for m in ("bell", "bell:gamma=0.5", "simclr", "random_init", "supervised"):
        assert f"| {m} |" in md
    assert "25% labels" in md and "100% labels" in md
    # Paired gains over both baselines: an untrained encoder, and training from scratch.
    assert "Gain over `random_init`" in md and "Gain over `supervised`" in md
    assert (tmp_path / "encoders").is_dir()
    # Running again finds every cell done: no new rows, no new log lines.
    lines.clear()
    again = run_comparison(toy(), config(), tmp_path, progress=False, log=log)
    assert len(again) == 10 and not lines
    # A new seed adds only its own cells.
    more = run_comparison(toy(), config(seeds=[0, 1], methods=["random_init"]), tmp_path,
                          progress=False, log=log)  # fmt: skip
    assert len(more) == 12 and len(lines) == 2
    assert "±" in (tmp_path / "results.md").read_text()
    # config.json lists everything the folder holds, not just the last command's methods.
    import json

    saved_cfg = json.loads((tmp_path / "config.json").read_text())
    assert saved_cfg["seeds"] == [0, 1] and "bell:gamma=0.5" in saved_cfg["methods"]
    # Resuming with another budget would mix tables: refused, naming the difference.
    with pytest.raises(ValueError, match=r"another budget \(epochs: 1 there, 2 now"):
        run_comparison(toy(), config(epochs=2), tmp_path, progress=False, log=log)
    assert len(load_results(tmp_path / "results.csv")) == 12


def test_results_folder_records_its_data_and_refuses_other_data(tmp_path):
    """config.json and results.md say which data the rows were scored on (loader options
    like fs or min_count change it); resuming on other data is refused, not mixed in."""
    import json

    cfg = config(methods=["random_init"], label_fractions=[1.0], n_boot=0)
    ds = toy()
    run_comparison(ds, cfg, tmp_path, progress=False, log=lambda s: None)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["dataset"] == {"summary": ds.summary(), "classes": list(ds.classes)}
    assert "64 records x 3 leads x 150 samples (3 s at 50 Hz)" in saved["dataset"]["summary"]
    assert f"Data: {ds.summary()}." in (tmp_path / "results.md").read_text()
    # The same data resumes; 128 records (another split, other sizes) is refused.
    run_comparison(ds, config(methods=["random_init"], label_fractions=[1.0], n_boot=0,
                              seeds=[1]), tmp_path, progress=False, log=lambda s: None)  # fmt: skip
    with pytest.raises(ValueError, match=r"other data \(toy: 64 records.*toy: 128 records"):
        run_comparison(toy(128), cfg, tmp_path, progress=False, log=lambda s: None)
    assert len(load_results(tmp_path / "results.csv")) == 2
    # A folder written before the record existed resumes (nothing to compare with).
    del saved["dataset"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    run_comparison(ds, cfg, tmp_path, progress=False, log=lambda s: None)


def test_parse_method_and_bad_config():
    assert parse_method("bell:gamma=0.5,shared_weights=true") == (
        "bell",
        {"gamma": 0.5, "shared_weights": True},
    )
    with pytest.raises(KeyError, match="bell"):
        parse_method("bel")
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_method("bell:gamma")
    with pytest.raises(ValueError, match="label_fractions"):
        config(label_fractions=[0.0])
    with pytest.raises(ValueError, match="protocol"):
        config(protocol="svm")


def test_a_budget_of_few_steps_is_flagged(tmp_path):
    """toy(): 32 training records at batch 16 and 1 epoch = 2 steps, far below FEW_STEPS."""
    lines: list[str] = []
    cfg = config(methods=["random_init", "simclr"], label_fractions=[1.0])
    with pytest.warns(UserWarning, match="only about 2 optimiser steps"):
        run_comparison(toy(), cfg, tmp_path, progress=False, log=lines.append)
    assert lines[0].startswith("warning: each SSL method gets only about 2")
    # Baselines alone pretrain nothing: no warning.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_comparison(toy(), config(methods=["random_init"], label_fractions=[0.25]),
                       tmp_path / "b", progress=False, log=lines.append)  # fmt: skip


def test_pretrain_data_sampling_semantics_and_labeled_counts(tmp_path):
    """SSL methods pretrain on another (combined, unlabeled) set; the table names it, the
    label-fraction semantics and each fraction's labeled-record count; an old results
    folder (class-balanced samples) is not resumed with plain fractions."""
    ds = toy()
    other = ecgssl.data.combine_datasets([ds, ds], names=["a", "b"])
    assert other.labels is None and len(other) == 2 * 32
    cfg = config(methods=["simclr", "random_init"], label_fractions=[0.25], n_boot=0)
    with pytest.warns(UserWarning, match="optimiser steps"):
        rows = run_comparison(ds, cfg, tmp_path, progress=False, log=lambda s: None,
                              pretrain_data=other)  # fmt: skip
    assert {r["n_train"] for r in rows} == {8}
    md = (tmp_path / "results.md").read_text()
    assert "25% labels (n = 8)" in md and "pretrained on `combined`" in md
    assert "plain patient-aware stratified" in md
    import json

    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["pretrain_data"] == "combined" and saved["min_positives_per_class"] == 0
    del saved["min_positives_per_class"]  # as written before the option existed
    (tmp_path / "config.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="min_positives_per_class: 1 there, 0 now"):
        run_comparison(ds, config(methods=["random_init"], label_fractions=[1.0], n_boot=0),
                       tmp_path, progress=False, log=lambda s: None, pretrain_data=other)  # fmt: skip
    with pytest.raises(ValueError, match="min_positives_per_class"):
        config(min_positives_per_class=-1)


def test_random_init_bn_baseline_recalibrates_batchnorm_only(tmp_path, monkeypatch):
    """random_init_bn: the same initial weights as random_init, BatchNorm statistics from the
    pretraining set's train split, nothing trained; named in results.md."""
    import ecgssl.compare as compare

    seen: list = []
    real = compare.recalibrate_batchnorm

    def spy(encoder, signals, **kw):
        seen.append(np.asarray(signals).shape)
        before = {k: v.clone() for k, v in encoder.state_dict().items()}
        out = real(encoder, signals, **kw)
        changed = {k for k, v in encoder.state_dict().items() if not (v == before[k]).all()}
        assert changed and all("running" in k or "num_batches" in k for k in changed)
        return out

    monkeypatch.setattr(compare, "recalibrate_batchnorm", spy)
    cfg = config(methods=["random_init", "random_init_bn"], label_fractions=[1.0], n_boot=0)
    rows = run_comparison(toy(), cfg, tmp_path, progress=False, log=lambda _: None)
    assert seen == [(32, 3, 150)]  # the 32 train records of toy(), once (one seed)
    by = {r["method"]: r for r in rows}
    assert set(by) == {"random_init", "random_init_bn"}
    assert by["random_init_bn"]["steps"] == 0 and by["random_init_bn"]["protocol"] == "linear"
    assert "`random_init_bn` = random init with BatchNorm statistics" in (
        tmp_path / "results.md").read_text()  # fmt: skip
    assert parse_method("random_init_bn") == ("random_init_bn", {})


def test_records_far_from_the_recipes_rate_are_flagged(tmp_path):
    """The shared budget was chosen at 100 Hz; 500-Hz records (LUDB's native rate) get a
    warning that says how to resample, in the log as well."""
    lines: list[str] = []
    x = toy()
    fast = ecgssl.load_dataset("arrays", signals=x.signals, fs=500.0, labels=x.labels,
                               split=x.split, name="fast")  # fmt: skip
    cfg = config(methods=["random_init"], label_fractions=[1.0], window_seconds=0.2)
    with pytest.warns(UserWarning, match="--dataset-option fs=100"):
        run_comparison(fast, cfg, tmp_path, progress=False, log=lines.append)
    assert any(line.startswith("warning:") and "500 Hz" in line for line in lines)


def test_baselines_start_from_the_ssl_methods_initial_weights(tmp_path):
    """A seed gives random_init (and supervised, random_init_bn) exactly the weights every
    SSL method of that seed starts pretraining from, so each gain over it is paired."""
    import json

    import torch

    from ecgssl.compare import _random_encoder

    cfg = config()
    ds = toy()
    # One step at a negligible lr: the pretrained weights are still the initial ones.
    res = ecgssl.pretrain("bell", dataset=ds, encoder=cfg.encoder, steps=1, lr=1e-12,
                          batch_size=16, window_seconds=2.0, seed=3, device="cpu",
                          progress=False)  # fmt: skip
    start = dict(res.encoder.named_parameters())
    for name, p in _random_encoder(cfg, ds.n_leads, 3).named_parameters():
        torch.testing.assert_close(p, start[name], atol=1e-9, rtol=0, msg=name)
    other = dict(_random_encoder(cfg, ds.n_leads, 4).named_parameters())
    assert any(not torch.equal(p, other[n]) for n, p in start.items())
    # The folder records the pairing; one written before it (baselines at seed + 10000)
    # is not resumed into a paired table.
    small = config(methods=["random_init"], label_fractions=[1.0], n_boot=0)
    run_comparison(ds, small, tmp_path, progress=False, log=lambda s: None)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["baseline_init"] == "paired"
    del saved["baseline_init"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match=r"baseline_init: 'seed\+10000' there, 'paired' now"):
        run_comparison(ds, small, tmp_path, progress=False, log=lambda s: None)


def test_gain_table_pairs_each_seed_with_random_init():
    from ecgssl.compare import gain_table

    def row(method: str, seed: int, f: float, auc: float) -> dict:
        return {"method": method, "seed": seed, "label_fraction": f, "macro_auroc": auc}

    rows = [row("random_init", 0, 0.1, 0.80), row("random_init", 1, 0.1, 0.70),
            row("bell", 0, 0.1, 0.83), row("bell", 1, 0.1, 0.74),
            row("bell", 2, 0.1, 0.99),  # no random_init of seed 2: left out, not unpaired
            row("simclr", 0, 0.1, 0.79), row("random_init", 0, 1.0, 0.9)]  # fmt: skip
    md = gain_table(rows)
    assert "| bell | +0.0350 ± 0.0071 (n = 2) | – |" in md
    assert "| simclr | -0.0100 (n = 1) | – |" in md
    assert "| random_init |" not in md
    assert gain_table([r for r in rows if r["method"] != "random_init"]) == ""
    assert gain_table([r for r in rows if r["method"] == "random_init"]) == ""


def test_a_second_protocol_reuses_the_first_runs_encoders(tmp_path, monkeypatch):
    """encoders_from: a finetune comparison takes the linear run's pretrained encoders
    (copied, nothing pretrained again); another budget or other data is refused."""
    import ecgssl.compare as compare

    ds = toy()
    lin = config(methods=["bell", "random_init"], label_fractions=[1.0], n_boot=0)
    with pytest.warns(UserWarning, match="optimiser steps"):
        run_comparison(ds, lin, tmp_path / "linear", progress=False, log=lambda s: None)

    def no_pretraining(*a, **k):
        raise AssertionError("pretrained again")

    monkeypatch.setattr(compare, "pretrain", no_pretraining)
    ft = config(methods=["bell", "random_init", "supervised"], label_fractions=[1.0], n_boot=0,
                protocol="finetune")  # fmt: skip
    with pytest.warns(UserWarning, match="optimiser steps"):
        rows = run_comparison(ds, ft, tmp_path / "ft", progress=False, log=lambda s: None,
                              encoders_from=tmp_path / "linear")  # fmt: skip
    assert {(r["method"], r["protocol"]) for r in rows} == {
        ("bell", "finetune"),
        ("random_init", "finetune"),
        ("supervised", "finetune"),
    }
    md = (tmp_path / "ft" / "results.md").read_text()
    # Both baselines' gains: the untrained encoder, and supervised training from scratch.
    assert "Gain over `random_init`" in md and "Gain over `supervised`" in md
    # The linear run had no supervised row: no table against it.
    assert "Gain over `supervised`" not in (tmp_path / "linear" / "results.md").read_text()
    copied = tmp_path / "ft" / "encoders" / "bell_seed0.pt"
    assert copied.read_bytes() == (tmp_path / "linear" / "encoders" / "bell_seed0.pt").read_bytes()
    with pytest.raises(ValueError, match=r"other settings \(epochs: 1 there, 2 now"):
        run_comparison(ds, config(epochs=2, protocol="finetune"), tmp_path / "other",
                       progress=False, encoders_from=tmp_path / "linear")  # fmt: skip
    with pytest.raises(ValueError, match=r"other settings \(dataset: 'toy: 64 records"):
        run_comparison(toy(128), ft, tmp_path / "other", progress=False,
                       encoders_from=tmp_path / "linear")  # fmt: skip
    with pytest.raises(ValueError, match="earlier `ecgssl compare` run"):
        run_comparison(ds, ft, tmp_path / "other", progress=False, encoders_from=tmp_path)


def test_a_damaged_saved_encoder_is_named_not_used(tmp_path):
    """A results folder's encoders/ file that is corrupt or not compare's format stops the
    run with its path and what to do, instead of being loaded or silently replaced."""
    import torch

    cfg = config(methods=["bell"], label_fractions=[1.0], n_boot=0)
    saved = tmp_path / "encoders" / "bell_seed0.pt"
    saved.parent.mkdir(parents=True)
    saved.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"bell_seed0.pt is corrupt or unreadable.*delete it"):
        run_comparison(toy(), cfg, tmp_path, progress=False, log=lambda s: None)
    torch.save({"format": 2, "state_dict": {}}, saved)
    with pytest.raises(ValueError, match=r"not an encoder file of `ecgssl compare`"):
        run_comparison(toy(), cfg, tmp_path, progress=False, log=lambda s: None)


def test_cells_keep_their_test_scores_for_paired_intervals(tmp_path):
    """Every cell saves its test scores; results.md then gives each gain over random_init
    with the paired bootstrap interval those scores allow (the same numbers as
    paired_gain_ci on them)."""
    from ecgssl.compare import gain_table, scores_path
    from ecgssl.evaluation.metrics import macro_auroc, paired_gain_ci

    cfg = config(methods=["bell", "random_init"], label_fractions=[1.0], seeds=[0, 1], n_boot=0)
    with pytest.warns(UserWarning, match="optimiser steps"):
        rows = run_comparison(toy(noise=3.0), cfg, tmp_path, progress=False, log=lambda s: None)
    for r in rows:
        with np.load(scores_path(tmp_path, r["method"], r["seed"], 1.0)) as f:
            assert f["scores"].shape == (16, 2) and f["y_test"].shape == (16, 2)
            assert macro_auroc(f["y_test"], f["scores"]) == pytest.approx(r["macro_auroc"])
    pairs = []
    for seed in (0, 1):
        with np.load(scores_path(tmp_path, "bell", seed, 1.0)) as a, \
                np.load(scores_path(tmp_path, "random_init", seed, 1.0)) as b:  # fmt: skip
            pairs.append((a["scores"], b["scores"]))
            y = a["y_test"]
    gain, lo, hi = paired_gain_ci(y, pairs)
    assert lo < hi  # a task hard enough that the two encoders' scores differ
    md = (tmp_path / "results.md").read_text()
    assert f"| bell | {gain:+.4f} [{lo:+.4f}, {hi:+.4f}] (n = 2) |" in md
    assert "95 % bootstrap interval" in md
    # Without the scores, the table falls back to the spread over seeds.
    assert "± " in gain_table(rows) and "[" not in gain_table(rows).split("|---|")[1]


def test_parts_of_one_run_merge_into_one_table(tmp_path, capsys):
    """Two folders with disjoint methods (one run split over two processes) merge into one:
    every cell, encoder and score file once, tables over all of them; another budget is
    refused. The CLI does the same with --merge."""
    from ecgssl.cli import main
    from ecgssl.compare import merge_results

    ds = toy(noise=3.0)
    a = config(methods=["bell"], label_fractions=[1.0], n_boot=0)
    b = config(methods=["random_init"], label_fractions=[1.0], n_boot=0)
    with pytest.warns(UserWarning, match="optimiser steps"):
        run_comparison(ds, a, tmp_path / "a", progress=False, log=lambda s: None)
    run_comparison(ds, b, tmp_path / "b", progress=False, log=lambda s: None)
    lines: list[str] = []
    rows = merge_results(tmp_path / "a", [tmp_path / "b", tmp_path / "b"], log=lines.append)
    assert sorted(r["method"] for r in rows) == ["bell", "random_init"]
    assert "1 duplicate cell" in lines[0]
    saved = load_results(tmp_path / "a" / "results.csv")
    assert [(r["method"], r["macro_auroc"]) for r in saved] == [
        (r["method"], r["macro_auroc"]) for r in rows]  # fmt: skip
    assert (tmp_path / "a" / "scores" / "random_init_seed0_labels1.npz").is_file()
    md = (tmp_path / "a" / "results.md").read_text()
    assert "| random_init |" in md and "Gain over `random_init`" in md and "| bell | " in md
    import json

    assert json.loads((tmp_path / "a" / "config.json").read_text())["methods"] == [
        "bell", "random_init"]  # fmt: skip
    run_comparison(ds, config(methods=["random_init"], label_fractions=[1.0], n_boot=0,
                              finetune_epochs=3), tmp_path / "c", progress=False,
                   log=lambda s: None)  # fmt: skip
    with pytest.raises(ValueError, match=r"another budget or data \(finetune_epochs: 2 there"):
        merge_results(tmp_path / "a", [tmp_path / "c"])
    with pytest.raises(ValueError, match=r"no readable config\.json"):
        merge_results(tmp_path / "a", [tmp_path / "nothing"])
    assert main(["compare", "--merge", str(tmp_path / "b"), "--out", str(tmp_path / "d")]) == 0
    assert "| random_init |" in capsys.readouterr().out
