"""kNN, fine-tuning, F1 thresholds, bootstrap intervals and the leakage guard."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, roc_auc_score

import ecgssl
from ecgssl.evaluation import (
    FinetuneConfig,
    LeakageError,
    best_thresholds,
    bootstrap_ci,
    f1_at_thresholds,
    finetune,
    knn_scores,
    macro_auroc,
)

FS = 50.0
TINY = {"name": "multibranch", "width": 4, "per_lead_dim": 8}


def toy(n: int = 80, seed: int = 0, name: str = "toy") -> ecgssl.ECGDataset:
    rng = np.random.default_rng(seed)
    t = np.arange(150) / FS
    y = rng.integers(0, 2, n)
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    x = np.sin(2 * np.pi * (1 + 2 * y[:, None, None]) * t + phase)
    x = x + 0.3 * rng.normal(size=(n, 3, 150))
    split = np.array(["train", "train", "val", "test"] * (n // 4))
    ids = [f"r{i}" for i in range(n)]
    return ecgssl.load_dataset(
        "arrays", signals=x, fs=FS, labels=y, split=split, record_ids=ids, name=name
    )


def test_knn_matches_a_brute_force_reference():
    rng = np.random.default_rng(0)
    tr, ev = rng.normal(size=(30, 5)), rng.normal(size=(7, 5))
    y = (rng.random((30, 3)) < 0.4).astype(float)
    got = knn_scores(tr, y, ev, k=4, temperature=0.5)
    for r in range(7):
        sims = [tr[i] @ ev[r] / np.linalg.norm(tr[i]) / np.linalg.norm(ev[r]) for i in range(30)]
        top = np.argsort(sims)[::-1][:4]
        w = np.array([np.exp(sims[i] / 0.5) for i in top])
        expected = (w[:, None] * y[top]).sum(0) / w.sum()
        np.testing.assert_allclose(got[r], expected, rtol=1e-10)
    with pytest.raises(ValueError, match="k must"):
        knn_scores(tr, y, ev, k=0)


def test_f1_thresholds_agree_with_sklearn():
    rng = np.random.default_rng(1)
    y = (rng.random((60, 4)) < 0.3).astype(int)
    s = y + rng.normal(0, 0.8, y.shape)
    thr = best_thresholds(y, s)
    pred = s >= thr
    ours = f1_at_thresholds(y, s, thr)
    assert ours == pytest.approx(f1_score(y, pred, average="macro", zero_division=0))
    # The chosen threshold is the best one per class (brute force over all cut points).
    for c in range(4):
        best = max(f1_score(y[:, c], s[:, c] >= v, zero_division=0) for v in s[:, c])
        assert f1_score(y[:, c], pred[:, c]) == pytest.approx(best)


def test_bootstrap_interval_brackets_the_estimate():
    rng = np.random.default_rng(2)
    y = (rng.random((200, 3)) < 0.4).astype(int)
    s = y + rng.normal(0, 1.0, y.shape)
    lo, hi = bootstrap_ci(macro_auroc, y, s, n_boot=300)
    point = np.mean([roc_auc_score(y[:, c], s[:, c]) for c in range(3)])
    assert lo < point < hi and hi - lo < 0.2


def test_bootstrap_scores_every_resample_on_the_same_classes():
    """A resample in which a rare class loses its positives is dropped, not averaged over
    the remaining classes (reference: an explicit loop with the same random draws)."""
    rng = np.random.default_rng(3)
    n = 40
    y = np.zeros((n, 3), dtype=int)
    y[:, 0] = rng.random(n) < 0.5
    y[:, 1] = rng.random(n) < 0.5
    y[[5, 17], 2] = 1  # rare class: 2 of 40, perfectly ranked
    s = rng.normal(size=(n, 3))
    s[:, 2] = y[:, 2] * 5.0
    lo, hi = bootstrap_ci(macro_auroc, y, s, n_boot=300, seed=7)
    draws, values = np.random.default_rng(7), []
    for _ in range(300):
        idx = draws.integers(0, n, n)
        pos = y[idx].sum(0)
        if ((pos > 0) & (pos < n)).all():
            values.append(np.mean([roc_auc_score(y[idx, c], s[idx, c]) for c in range(3)]))
    assert 150 < len(values) < 290  # some resamples lose the rare class
    assert (lo, hi) == pytest.approx(tuple(np.quantile(values, [0.025, 0.975])))


def test_auroc_rows_equals_sklearn_and_marks_undefined_rows():
    from ecgssl.evaluation.metrics import auroc_rows

    rng = np.random.default_rng(6)
    y = (rng.random((4, 50)) < 0.3).astype(int)
    y[3] = 0  # no positives: undefined
    s = np.round(rng.normal(size=(4, 50)) + y, 1)  # ties
    got = auroc_rows(y, s)
    for i in range(3):
        assert got[i] == pytest.approx(roc_auc_score(y[i], s[i]), abs=1e-12)
    assert np.isnan(got[3])


@pytest.mark.parametrize("block", [None, 7 * 60 * 3])
def test_vectorised_bootstrap_equals_the_loop_with_ties(monkeypatch, block):
    """macro AUROC's all-at-once bootstrap (rank statistics) gives the interval of the
    generic one-resample-at-a-time loop, with tied scores and in blocks of resamples."""
    from ecgssl.evaluation import metrics

    if block is not None:
        monkeypatch.setattr(metrics, "_BOOT_BLOCK_ELEMENTS", block)  # 7 resamples per block
    rng = np.random.default_rng(4)
    y = (rng.random((60, 3)) < 0.3).astype(int)
    s = np.round(y + rng.normal(0, 1.0, y.shape), 1)  # coarse scores: many ties
    fast = bootstrap_ci(macro_auroc, y, s, n_boot=100, seed=5)
    loop = bootstrap_ci(lambda a, b: macro_auroc(a, b), y, s, n_boot=100, seed=5)
    assert fast == pytest.approx(loop, abs=1e-12)


def test_finetune_early_stops_on_validation_loss_when_auroc_is_undefined():
    """Validation labels with no negatives make its AUROC undefined: the fallback is the
    validation loss, never the training loss. Training pushes every logit up (all-positive
    training labels) while validation is all-negative, so the validation loss is best after
    the first epoch even though the training loss keeps falling."""
    ds = toy()
    enc = ecgssl.build_encoder(TINY, 3)
    tr, va = ds.subset("train"), ds.subset("val")
    res = finetune(enc, (tr.signals, np.ones((len(tr), 2), np.float32)),
                   (va.signals, np.zeros((len(va), 2), np.float32)),
                   config=FinetuneConfig(epochs=4, lr=1e-2, patience=10), device="cpu")  # fmt: skip
    losses = [h["loss"] for h in res.history]
    val_losses = [h["val_loss"] for h in res.history]
    assert losses[-1] < losses[0] and len(res.history) == 4
    assert res.best_epoch == 1 + int(np.argmin(val_losses)) == 1
    assert np.isnan(res.val_macro_auroc)
    with pytest.raises(ValueError, match="validation"):
        finetune(enc, (tr.signals, tr.labels), (va.signals[:0], va.labels[:0]), device="cpu")


def test_finetune_learns_and_leaves_the_encoder_alone():
    ds = toy()
    enc = ecgssl.build_encoder(TINY, 3)
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    tr, va = ds.subset("train"), ds.subset("val")
    res = finetune(enc, (tr.signals, tr.labels), (va.signals, va.labels), multilabel=False,
                   config=FinetuneConfig(epochs=15, lr=3e-3, encoder_lr_ratio=1.0), device="cpu")  # fmt: skip
    assert 1 <= res.best_epoch <= 15 and len(res.history) >= res.best_epoch
    te = ds.subset("test")
    assert macro_auroc(te.labels, res.scores(te.signals)) > 0.8
    for k, v in enc.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)


@pytest.mark.parametrize("kwargs", [{"epochs": 0}, {"lr": 0.0}, {"encoder_lr_ratio": 2.0}])
def test_finetune_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        FinetuneConfig(**kwargs)


@pytest.mark.parametrize("protocol", ["linear", "knn", "finetune"])
def test_every_protocol_end_to_end(protocol):
    ds = toy()
    enc = ecgssl.build_encoder(TINY, 3)
    opts = {"finetune_config": FinetuneConfig(epochs=3)} if protocol == "finetune" else {}
    res = ecgssl.evaluate(enc, ds, protocol=protocol, label_fraction=0.5, device="cpu", **opts)
    m = res.metrics
    assert res.protocol == protocol and res.n_train == 20 and res.n_test == 20
    assert 0 <= m["macro_auroc"] <= 1 and "accuracy" in m and 0 <= m["macro_f1"] <= 1
    assert m["macro_auroc_ci_low"] <= m["macro_auroc"] <= m["macro_auroc_ci_high"]


def test_unknown_protocol():
    with pytest.raises(ValueError, match="protocol"):
        ecgssl.evaluate(ecgssl.build_encoder(TINY, 3), toy(), protocol="svm", device="cpu")


def test_leakage_guard_fires_on_an_overlapping_split():
    ds = toy()
    # Pretraining on every record (test split included) leaks into the test split.
    leaky = ecgssl.load_dataset(
        "arrays", signals=ds.signals, fs=FS, record_ids=ds.record_ids, name="toy"
    )
    result = ecgssl.pretrain("bell", dataset=leaky.select(np.arange(80)), encoder=TINY,
                             epochs=1, batch_size=16, device="cpu", progress=False,
                             window_seconds=2.0)  # fmt: skip
    # pretrain() itself uses the train split of a dataset with a split; this one's hashed
    # split keeps some test-split records of `ds` in its train split.
    with pytest.raises(LeakageError, match="shares"):
        ecgssl.evaluate(result, ds, device="cpu")
    with pytest.warns(RuntimeWarning, match="LEAKAGE ALLOWED"):
        res = ecgssl.evaluate(result, ds, device="cpu", allow_leakage=True)
    assert res.details["leaked_test_records"] > 0
    # A clean run: pretraining on ds's own train split does not trip the guard.
    clean = ecgssl.pretrain("bell", dataset=ds, encoder=TINY, epochs=1, batch_size=16,
                            device="cpu", progress=False, window_seconds=2.0)  # fmt: skip
    assert ecgssl.evaluate(clean, ds, device="cpu").details["leaked_test_records"] == 0
    # Another dataset name never counts as an overlap.
    assert ecgssl.evaluate(result, toy(name="other"), device="cpu").macro_auroc >= 0


@pytest.mark.parametrize("protocol", ["linear", "knn"])
@pytest.mark.parametrize("aggregate", ["max", "mean"])
def test_windowed_evaluation(protocol, aggregate):
    from ecgssl.evaluation.protocol import _cut_windows

    ds = toy()  # 3 s records at 50 Hz
    x, n_win = _cut_windows(ds.signals[:2], 50, 25)
    assert n_win == 5 and x.shape == (10, 3, 50)
    np.testing.assert_array_equal(x[1], ds.signals[0, :, 25:75])  # record 0, window 1
    np.testing.assert_array_equal(x[5], ds.signals[1, :, 0:50])  # record 1, window 0
    enc = ecgssl.build_encoder(TINY, 3)
    res = ecgssl.evaluate(enc, ds, protocol=protocol, device="cpu", window_seconds=1.0,
                          window_stride=0.5, aggregate=aggregate)  # fmt: skip
    assert res.details["windows_per_record"] == 5 and res.n_test == 20
    assert 0 <= res.macro_auroc <= 1
    with pytest.raises(ValueError, match="longer than the records"):
        ecgssl.evaluate(enc, ds, device="cpu", window_seconds=10.0)
    with pytest.raises(ValueError, match="linear"):
        ecgssl.evaluate(enc, ds, protocol="finetune", device="cpu", window_seconds=1.0)


def test_finetune_can_start_from_the_linear_probe():
    """head_init="probe" (LP-FT): the head starts as the probe fitted on the frozen encoder's
    embeddings, so with the encoder frozen and a negligible lr the result is that probe; with
    training it never ends below the probe's validation AUROC."""
    ds = toy()
    enc = ecgssl.build_encoder(TINY, 3)
    tr, va, te = ds.subset("train"), ds.subset("val"), ds.subset("test")
    y_tr, y_va = tr.labels, va.labels
    frozen = FinetuneConfig(epochs=2, lr=1e-12, encoder_lr_ratio=0.0, head_init="probe")
    res = finetune(enc, (tr.signals, y_tr), (va.signals, y_va), config=frozen, device="cpu")
    z = {s: ecgssl.embed(enc, part.signals, device="cpu") for s, part in
         (("train", tr), ("val", va), ("test", te))}  # fmt: skip
    probe = ecgssl.evaluation.LinearProbe().fit(z["train"], y_tr, z["val"], y_va)
    np.testing.assert_allclose(res.scores(te.signals), probe.decision_function(z["test"]),
                               rtol=1e-4, atol=1e-4)  # fmt: skip
    assert res.val_macro_auroc == pytest.approx(probe.val_macro_auroc, abs=1e-6)
    trained = finetune(enc, (tr.signals, y_tr), (va.signals, y_va), device="cpu",
                       config=FinetuneConfig(epochs=6, lr=3e-3, head_init="probe"))  # fmt: skip
    assert trained.val_macro_auroc >= probe.val_macro_auroc - 1e-9
    assert macro_auroc(te.labels, trained.scores(te.signals)) > 0.8
    with pytest.raises(ValueError, match="head_init"):
        FinetuneConfig(head_init="zeros")


def test_finetune_can_keep_batchnorm_statistics_frozen():
    """freeze_batchnorm=True: the running statistics stay the encoder's while its weights
    (BatchNorm's affine ones included) train; by default they follow the labeled batches."""
    ds = toy()
    enc = ecgssl.build_encoder(TINY, 3)
    ecgssl.evaluation.recalibrate_batchnorm(enc, ds.subset("train").signals, device="cpu")
    tr, va = ds.subset("train"), ds.subset("val")

    def run(freeze: bool) -> ecgssl.evaluation.FinetuneResult:
        cfg = FinetuneConfig(epochs=3, patience=3, lr=3e-3, encoder_lr_ratio=1.0,
                             freeze_batchnorm=freeze)  # fmt: skip
        return finetune(enc, (tr.signals, tr.labels), (va.signals, va.labels), config=cfg,
                        device="cpu")  # fmt: skip

    def stats(model: torch.nn.Module) -> dict[str, torch.Tensor]:
        return {k: v for k, v in model.state_dict().items() if "running" in k}

    before = stats(enc)
    assert before and any(float(v.abs().sum()) > 0 for v in before.values())
    frozen, trained = run(True), run(False)
    assert frozen.best_epoch > 0 and trained.best_epoch > 0
    for k, v in stats(frozen.encoder).items():
        torch.testing.assert_close(v, before[k], msg=k)
    assert any(not torch.equal(v, before[k]) for k, v in stats(trained.encoder).items())
    weights = {k: v for k, v in enc.state_dict().items() if k.endswith("weight")}
    changed = [k for k, v in frozen.encoder.state_dict().items()
               if k in weights and not torch.equal(v, weights[k])]  # fmt: skip
    assert any("bn" in k for k in changed) and any("bn" not in k for k in changed)
