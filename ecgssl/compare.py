"""The same-budget method comparison: SSL methods vs supervised vs random init.

Every SSL method is pretrained on the same data (the dataset's train split), with the same
encoder, epochs, batch size, learning rate and augmentation policy, then evaluated by the
same protocol at each label fraction and seed. The baselines go through the same code paths:
``random_init`` (the protocol applied to a randomly initialised encoder of the same
architecture), ``random_init_bn`` (that encoder with its BatchNorm statistics recomputed on
the pretraining records, :func:`~ecgssl.evaluation.recalibrate_batchnorm`: no training, the
control for "did pretraining learn more than data statistics?") and ``supervised`` (that random encoder fine-tuned
end to end on the labels).

Method entries are registry names with optional overrides, e.g. ``"bell"``,
``"bell:gamma=0.5"``, ``"bell:shared_weights=true"`` or ``"bell:inter_pairs=random"``, so BELL
ablations run in the same table. Results go to ``results.csv`` (one row per cell, written
atomically after each cell; finished cells are skipped when the run is repeated),
``results.md`` (mean ± std over seeds) and ``results.png`` (metric vs label fraction).
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecgssl.api import build_encoder, pretrain
from ecgssl.augment.policies import STRENGTHS, ssl_policy
from ecgssl.data.base import ECGDataset
from ecgssl.data.cache import atomic_write_bytes, atomic_write_npz
from ecgssl.encoders.base import Encoder
from ecgssl.errors import InvalidValueError
from ecgssl.evaluation.batchnorm import recalibrate_batchnorm
from ecgssl.evaluation.finetune import FinetuneConfig
from ecgssl.evaluation.leakage import record_provenance
from ecgssl.evaluation.metrics import paired_gain_ci
from ecgssl.evaluation.protocol import PROTOCOLS, EvaluationResult, evaluate_fractions
from ecgssl.precision import check_amp
from ecgssl.recipes import SHARED_BUDGET, Recipe
from ecgssl.registry import METHODS
from ecgssl.training.checkpoint import atomic_torch_save, safe_torch_load

__all__ = [
    "BASELINES",
    "CompareConfig",
    "gain_table",
    "load_results",
    "merge_results",
    "parse_method",
    "plot_results",
    "run_comparison",
    "scores_path",
    "summary_table",
]

BASELINES = ("random_init", "random_init_bn", "supervised")
#: At most this many pretraining records recompute ``random_init_bn``'s BatchNorm statistics.
BN_RECORDS = 4096
FIELDS = (
    "dataset", "method", "seed", "label_fraction", "protocol", "macro_auroc",
    "macro_auroc_ci_low", "macro_auroc_ci_high", "macro_auprc", "macro_f1", "n_train",
    "n_test", "pretrain_seconds", "eval_seconds", "encoder_params", "epochs", "steps",
)  # fmt: skip


def parse_method(entry: str) -> tuple[str, dict[str, Any]]:
    """``"bell:gamma=0.5,shared_weights=true"`` -> ``("bell", {"gamma": 0.5, ...})``.

    Values are parsed as JSON where possible (numbers, ``true``/``false``), else kept as text.
    """
    name, _, rest = entry.partition(":")
    name = name.strip()
    options: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidValueError(f"method option must be KEY=VALUE, got {item!r} in {entry!r}")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value.strip()
    if name not in BASELINES:
        METHODS.get(name)  # unknown names raise with close matches
    elif options:
        raise InvalidValueError(f"baseline {name!r} takes no options, got {options}")
    return name, options


@dataclass
class CompareConfig:
    """What to compare and the budget every method gets.

    Attributes:
        methods: SSL method entries (``"name"`` or ``"name:key=value,..."``) and baselines
            (``"random_init"``, ``"random_init_bn"``, ``"supervised"``).
        label_fractions: Fractions of the training labels, each in (0, 1].
        seeds: One pretraining + evaluation per seed.
        protocol: Evaluation protocol of the SSL methods, ``random_init`` and ``random_init_bn``
            (``"linear"``, ``"knn"`` or ``"finetune"``).
        encoder: Encoder spec shared by every method and baseline (default ``multibranch``).
        epochs: Pretraining epochs of every SSL method (ignored when ``steps`` is set).
        steps: Pretraining budget of every SSL method in optimisation steps. With neither
            ``steps`` nor ``epochs``, the budget is the recipes' shared one
            (:mod:`ecgssl.recipes`: 1000 steps at batch 64, at most 50 epochs), the same
            budget ``ecgssl.pretrain`` and ``ecgssl pretrain`` use. Each method keeps its
            recipe's method options (e.g. BELL's regulariser weights); the budget, batch size, lr
            and views are the comparison's, the same for every method (:meth:`budget`).
        batch_size: Pretraining batch size (``None``: the recipes' batch size).
        lr: Peak pretraining learning rate (``None``: the recipes' lr).
        window_seconds: Length of the pretraining crops.
        augmentation: Strength of the shared view policy (:func:`ecgssl.augment.ssl_policy`).
        finetune_epochs: Maximum epochs of the ``supervised`` baseline and the ``finetune``
            protocol (early-stopped on validation).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        amp: Mixed precision of pretraining, embedding and fine-tuning (``"auto"``, ``True``
            or ``False``; :func:`ecgssl.precision.resolve_amp`).
        n_boot: Bootstrap resamples for the test-set confidence intervals.
        min_positives_per_class: Positive training records (patients) of each class taken
            into every label-fraction sample first (0, the default: a plain stratified
            fraction; 1 reproduces the class-balanced samples of earlier ecgssl versions).
    """

    methods: Sequence[str] = ("bell", "byol", "simclr", "supervised", "random_init")
    label_fractions: Sequence[float] = (0.01, 0.1, 1.0)
    seeds: Sequence[int] = (0, 1, 2)
    protocol: str = "linear"
    encoder: str | dict[str, Any] = field(default_factory=lambda: {"name": "multibranch"})
    epochs: int | None = None
    steps: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    window_seconds: float = 2.5
    augmentation: str = "default"
    finetune_epochs: int = 30
    device: str = "auto"
    amp: bool | str = "auto"
    n_boot: int = 200
    min_positives_per_class: int = 0

    def __post_init__(self) -> None:
        if not self.methods:
            raise InvalidValueError("methods must name at least one method or baseline")
        for entry in self.methods:
            parse_method(entry)
        if not self.label_fractions or any(not 0 < f <= 1 for f in self.label_fractions):
            raise InvalidValueError(
                f"label_fractions must lie in (0, 1], got {self.label_fractions}"
            )
        if not self.seeds:
            raise InvalidValueError("seeds must hold at least one seed")
        if self.protocol not in PROTOCOLS:
            raise InvalidValueError(f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        if self.augmentation not in STRENGTHS:
            raise InvalidValueError(
                f"augmentation must be one of {STRENGTHS}, got {self.augmentation!r}"
            )
        for name in ("epochs", "batch_size", "finetune_epochs", "steps"):
            v = getattr(self, name)
            if v is None and name != "finetune_epochs":
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InvalidValueError(f"{name} must be an integer >= 1, got {v!r}")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise InvalidValueError(f"lr must be > 0, got {self.lr}")
        if not self.window_seconds > 0:
            raise InvalidValueError(f"window_seconds must be > 0, got {self.window_seconds}")
        check_amp(self.amp)
        v = self.min_positives_per_class
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise InvalidValueError(f"min_positives_per_class must be an integer >= 0, got {v!r}")

    def budget(self, n_train: int) -> dict[str, Any]:
        """The pretraining budget every SSL method gets on ``n_train`` training records:
        ``steps``, ``batch_size`` and ``lr``, from the explicit fields or else the recipes'
        shared budget (:data:`ecgssl.recipes.SHARED_BUDGET`)."""
        recipe = Recipe("compare", **SHARED_BUDGET)
        batch = min(self.batch_size or recipe.batch_size, max(1, n_train))
        per_epoch = max(1, n_train // batch)
        if self.steps is not None:
            steps = self.steps
        elif self.epochs is not None:
            steps = self.epochs * per_epoch
        else:
            steps = max(1, min(recipe.steps, math.ceil(recipe.max_epochs * per_epoch)))
        return {"steps": steps, "batch_size": batch, "lr": self.lr or recipe.lr}


#: Settings that every row of one results folder must share: resuming with another value would
#: silently mix budgets in one table. Methods, fractions and seeds may be extended.
BUDGET_FIELDS = ("protocol", "encoder", "epochs", "steps", "batch_size", "lr", "window_seconds",
                 "augmentation", "finetune_epochs", "n_boot", "min_positives_per_class",
                 "pretrain_data", "amp", "baseline_init")  # fmt: skip
#: The settings a pretrained encoder depends on: another folder's encoders are reused
#: (``encoders_from``) only where these, and the data, are the same.
PRETRAIN_FIELDS = ("encoder", "epochs", "steps", "batch_size", "lr", "window_seconds",
                   "augmentation", "pretrain_data", "amp")  # fmt: skip
#: How the baselines' encoders are initialised: ``"paired"``, the same initial weights as every
#: SSL method of the same seed, so that each gain over ``random_init`` is a paired difference.
BASELINE_INIT = "paired"
#: The value a field had in results folders written before it existed (the baselines of older
#: folders drew their weights from seed + 10000, unpaired with the SSL methods).
_LEGACY = {"min_positives_per_class": 1, "pretrain_data": None, "amp": "auto",
           "baseline_init": "seed+10000"}  # fmt: skip


def _with_legacy(saved: dict[str, Any]) -> dict[str, Any]:
    """A saved ``config.json`` with the fields it predates set to their old values (added at
    the end, so that a merged config keeps the runs' key order)."""
    return {**saved, **{k: v for k, v in _LEGACY.items() if k not in saved}}


def _dataset_record(dataset: ECGDataset) -> dict[str, Any]:
    """What a results folder says about the data it was scored on: the one-line summary
    (records, leads, samples, fs, classes, split sizes) and the class names. Loader options
    such as ``fs`` or ``min_count`` change these, so two folders with the same record come
    from the same data as far as the table can tell."""
    return {"summary": dataset.summary(), "classes": [str(c) for c in dataset.classes]}


def _config_record(
    cfg: CompareConfig, pretrain_data: str | None, dataset: dict[str, Any] | None
) -> dict[str, Any]:
    """What ``config.json`` holds: the config, the pretraining set's name, the data record
    and how the baselines are initialised."""
    record: dict[str, Any] = json.loads(json.dumps(asdict(cfg), default=list))
    record.update(pretrain_data=pretrain_data, dataset=dataset, baseline_init=BASELINE_INIT)
    return record


def _differences(old: dict[str, Any], new: dict[str, Any], fields: Sequence[str]) -> str:
    """``"key: OLD there, NEW now; ..."`` over the ``fields`` both records hold and differ in."""
    return "; ".join(f"{k}: {old[k]!r} there, {new[k]!r} now" for k in fields
                     if k in old and k in new and old[k] != new[k])  # fmt: skip


def _write_config(
    path: Path,
    cfg: CompareConfig,
    resuming: bool,
    pretrain_data: str | None = None,
    dataset: dict[str, Any] | None = None,
) -> None:
    """Write ``config.json``; when resuming, refuse a different budget or dataset and merge
    the lists."""
    new = _config_record(cfg, pretrain_data, dataset)
    if resuming and path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise InvalidValueError(
                f"cannot read {path} to check the earlier runs' budget: {e}"
            ) from e
        old = _with_legacy(old)
        what = _differences(old, new, BUDGET_FIELDS)
        if what:
            raise InvalidValueError(
                f"{path.parent} holds results of another budget ({what}); resuming would mix "
                "budgets in one table. Use another output folder, or the same settings."
            )
        if old.get("dataset") is not None and dataset is not None and old["dataset"] != dataset:
            raise InvalidValueError(
                f"{path.parent} holds results on other data ({old['dataset']['summary']} there, "
                f"{dataset['summary']} now); resuming would mix datasets in one table. Use "
                "another output folder, or the same dataset and loader options."
            )
        for key in ("methods", "label_fractions", "seeds"):
            new[key] = list(dict.fromkeys([*old.get(key, []), *new[key]]))
    atomic_write_bytes(path, json.dumps(new, indent=2).encode())


#: Below this many optimiser steps per pretraining, a comparison mostly measures initialisation.
FEW_STEPS = 100


def _warn_if_few_steps(dataset: ECGDataset, cfg: CompareConfig, log: Callable[[str], None]) -> None:
    """Say so when the budget gives each SSL method only a handful of optimiser steps.

    Epochs scale with the dataset: 20 epochs are 200 steps on the built-in 1000 records at
    batch 64, but 40 on LUDB's 140 training records, where no method beat random init until
    the budget was raised (``benchmarks/results/ludb-200-epochs``). The default (the recipes'
    budget, capped at 50 epochs) gives 100 steps there.
    """
    if all(parse_method(m)[0] in BASELINES for m in cfg.methods):
        return
    n_train = int(np.sum(np.asarray(dataset.split) == "train"))
    b = cfg.budget(n_train)
    steps = b["steps"]
    if steps < FEW_STEPS:
        message = (
            f"each SSL method gets only about {steps} optimiser steps ({n_train} training "
            f"records, batch {b['batch_size']}): too few to learn much, so "
            "the comparison mostly measures initialisation; raise --epochs (or lower "
            "--batch-size) for at least a few hundred steps"
        )
        warnings.warn(message, UserWarning, stacklevel=3)
        log(f"warning: {message}")


def _warn_if_other_rate(dataset: ECGDataset, log: Callable[[str], None]) -> None:
    """Say so when the records are far from the sampling rate the recipes were chosen at."""
    recipe = Recipe("compare", **SHARED_BUDGET)
    how = "load_dataset(..., fs={fs:g}), or --dataset-option fs={fs:g} on the command line"
    message = recipe.rate_warning(dataset.fs, how=how, what="the shared budget of the recipes")
    if message is not None:
        warnings.warn(message, UserWarning, stacklevel=3)
        log(f"warning: {message}")


def _cell_key(row: dict[str, Any]) -> tuple[str, str, int, float, str]:
    return (
        str(row["dataset"]),
        str(row["method"]),
        int(row["seed"]),
        round(float(row["label_fraction"]), 6),
        str(row["protocol"]),
    )


def load_results(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a ``results.csv`` written by :func:`run_comparison` (numbers parsed)."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            parsed: dict[str, Any] = {}
            for k, v in row.items():
                try:
                    parsed[k] = float(v) if k not in ("dataset", "method", "protocol") else v
                except ValueError:
                    parsed[k] = v
            rows.append(parsed)
    return rows


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode())


def _n_params(encoder: Encoder) -> int:
    return sum(p.numel() for p in encoder.parameters())


def _random_encoder(cfg: CompareConfig, n_leads: int, seed: int) -> Encoder:
    """The untrained encoder of ``seed``: the same initial weights :func:`ecgssl.pretrain`
    starts every SSL method of that seed from (it seeds torch, then builds the encoder)."""
    torch.manual_seed(seed)
    return build_encoder(cfg.encoder, n_leads)


def _recalibrate(encoder: Encoder, ds: ECGDataset, seed: int, device: str) -> None:
    """``random_init_bn``: BatchNorm statistics from (at most :data:`BN_RECORDS`) training
    records of the pretraining set, drawn with the seed."""
    train = np.flatnonzero(np.asarray(ds.split) == "train")
    if len(train) > BN_RECORDS:
        train = np.sort(np.random.default_rng(seed).choice(train, BN_RECORDS, replace=False))
    recalibrate_batchnorm(encoder, np.asarray(ds.signals[train], dtype=np.float32), device=device)


def _stem(label: str) -> str:
    """A method entry as a file-name stem (``bell:gamma=0.5`` -> ``bell_gamma-0.5``)."""
    return label.replace(":", "_").replace("=", "-")


def scores_path(out_dir: str | Path, label: str, seed: int, fraction: float) -> Path:
    """Where a comparison keeps one cell's test scores: ``scores/<method>_seed<S>_labels<F>.npz``
    with ``scores`` (records, classes) and ``y_test``, for paired intervals later."""
    return Path(out_dir) / "scores" / f"{_stem(label)}_seed{int(seed)}_labels{fraction:g}.npz"


def _encoder_source(
    src: Path, cfg: CompareConfig, pretrain_data: str | None, dataset: dict[str, Any],
) -> Path:  # fmt: skip
    """``src/encoders`` after checking that ``src`` (an earlier comparison's folder) pretrained
    with the same settings (:data:`PRETRAIN_FIELDS`) on the same data."""
    try:
        old = _with_legacy(json.loads((src / "config.json").read_text()))
    except (OSError, ValueError) as e:
        raise InvalidValueError(
            f"encoders_from: cannot read {src / 'config.json'} (expected the output folder of "
            f"an earlier `ecgssl compare` run): {e}"
        ) from e
    parts = [_differences(old, _config_record(cfg, pretrain_data, dataset), PRETRAIN_FIELDS)]
    if old.get("dataset") is not None and old["dataset"] != dataset:
        parts.append(f"dataset: {old['dataset']['summary']!r} there, {dataset['summary']!r} now")
    what = "; ".join(p for p in parts if p)
    if what:
        raise InvalidValueError(
            f"encoders_from: {src} pretrained with other settings ({what}); its encoders "
            "would not be this comparison's."
        )
    return src / "encoders"


#: Version of the files in a results folder's ``encoders/`` (a dict with the encoder's config,
#: its state_dict, the pretraining seconds and history; not a Pretrainer checkpoint).
ENCODER_FILE_FORMAT = 1


def _read_saved_encoder(path: Path) -> dict[str, Any]:
    """An encoder file a comparison saved, loaded safely (no pickled code) and checked."""
    hint = "delete it and run again to pretrain that encoder anew"
    try:
        saved = safe_torch_load(path, map_location="cpu")
    except ValueError as e:
        raise InvalidValueError(f"{path} is corrupt or unreadable ({e}); {hint}") from None
    if not (isinstance(saved, dict) and saved.get("format") == ENCODER_FILE_FORMAT
            and {"encoder_config", "state_dict"} <= set(saved)):  # fmt: skip
        raise InvalidValueError(
            f"{path} is not an encoder file of `ecgssl compare` (format "
            f"{ENCODER_FILE_FORMAT}: encoder_config and state_dict); {hint}"
        )
    return saved


def _pretrained_encoder(
    cfg: CompareConfig, label: str, name: str, options: dict[str, Any], ds: ECGDataset,
    seed: int, out_dir: Path, progress: bool, reuse: Path | None = None,
) -> tuple[Encoder, float]:  # fmt: skip
    """Pretrain, or reload the encoder a previous, interrupted run saved (in ``out_dir`` or,
    copied from there, in ``reuse``: another folder's checked ``encoders/``)."""
    path = out_dir / "encoders" / f"{_stem(label)}_seed{seed}.pt"
    if not path.exists() and reuse is not None and (reuse / path.name).exists():
        atomic_write_bytes(path, (reuse / path.name).read_bytes())
    if path.exists():
        saved = _read_saved_encoder(path)
        enc = build_encoder(saved["encoder_config"], ds.n_leads)
        enc.load_state_dict(saved["state_dict"])
        record_provenance(enc, ds.subset("train"))
        return enc, float(saved.get("seconds", math.nan))
    t0 = time.perf_counter()
    encoder_spec = dict(cfg.encoder) if isinstance(cfg.encoder, dict) else {"name": cfg.encoder}
    if "shared_weights" in options:  # a BELL-style ablation of the encoder's weight sharing
        encoder_spec["shared_weights"] = options["shared_weights"]
    budget = cfg.budget(int(np.sum(np.asarray(ds.split) == "train")))
    result = pretrain(
        method=name, dataset=ds, encoder=encoder_spec,
        **budget,
        augmentations=ssl_policy(cfg.window_seconds, cfg.augmentation),
        seed=seed, device=cfg.device, progress=progress, amp=cfg.amp,
        **options,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    atomic_torch_save(
        {"format": ENCODER_FILE_FORMAT, "encoder_config": result.encoder.config,
         "seconds": seconds,
         "state_dict": result.encoder.state_dict(), "history": result.history},
        path,
    )  # fmt: skip
    return result.encoder, seconds


def run_comparison(
    dataset: ECGDataset,
    config: CompareConfig | None = None,
    out_dir: str | Path = "benchmarks/results/synthetic",
    progress: bool = True,
    log: Callable[[str], None] = print,
    pretrain_data: ECGDataset | None = None,
    encoders_from: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Run (or resume) the comparison and write ``results.csv``, ``results.md``, ``results.png``.

    Args:
        dataset: A labeled dataset with train/val/test splits; pretraining uses its train
            split (unless ``pretrain_data`` is given), labels only through the
            label-fraction samples.
        config: Methods, fractions, seeds and the shared budget.
        out_dir: Output folder (created); finished cells already in its ``results.csv`` are
            skipped and pretrained encoders are reloaded from ``encoders/``.
        progress: Show pretraining progress bars.
        log: Where one line per finished cell goes.
        pretrain_data: Another (unlabeled) dataset to pretrain every SSL method on, e.g.
            PTB-XL's train folds plus HCE from :func:`ecgssl.data.combine_datasets`; its
            train split is used. Evaluation stays on ``dataset``, and the leakage guard
            refuses a test split that shares records or patients with it.
        encoders_from: The folder of an earlier comparison whose pretrained encoders this
            one reuses (copied into ``out_dir/encoders``), e.g. a ``linear`` run's for the
            ``finetune`` protocol; refused unless it pretrained with the same settings on
            the same data. Methods and seeds it lacks are pretrained here.

    Returns:
        Every row of ``results.csv`` (previous and new).
    """
    cfg = config or CompareConfig()
    if dataset.labels is None or dataset.split is None:
        raise InvalidValueError(f"dataset {dataset.name!r} needs labels and a train/val/test split")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "results.csv"
    rows = load_results(csv_path)
    done = {_cell_key(r) for r in rows}
    pre_ds = pretrain_data if pretrain_data is not None else dataset
    if pre_ds.n_leads != dataset.n_leads or not math.isclose(pre_ds.fs, dataset.fs):
        raise InvalidValueError(
            f"pretrain_data {pre_ds.name!r} ({pre_ds.n_leads} leads at {pre_ds.fs:g} Hz) does "
            f"not match {dataset.name!r} ({dataset.n_leads} leads at {dataset.fs:g} Hz)"
        )
    data = _dataset_record(dataset)
    _write_config(out / "config.json", cfg, resuming=bool(rows),
                  pretrain_data=None if pretrain_data is None else pretrain_data.name,
                  dataset=data)  # fmt: skip
    reuse = None
    if encoders_from is not None:
        reuse = _encoder_source(
            Path(encoders_from), cfg, None if pretrain_data is None else pretrain_data.name, data
        )
    _warn_if_few_steps(pre_ds, cfg, log)
    _warn_if_other_rate(dataset, log)
    n_pre = int(np.sum(np.asarray(pre_ds.split) == "train"))
    budget = cfg.budget(n_pre)
    y_test = np.asarray(dataset.labels)[np.asarray(dataset.split) == "test"]  # saved with scores
    for label in cfg.methods:
        name, options = parse_method(label)
        protocol = "finetune" if name == "supervised" else cfg.protocol
        for seed in cfg.seeds:
            todo = [
                f for f in cfg.label_fractions
                if (dataset.name, label, int(seed), round(float(f), 6), protocol) not in done
            ]  # fmt: skip
            if not todo:
                continue
            pre_s = 0.0
            if name in BASELINES:
                encoder = _random_encoder(cfg, dataset.n_leads, int(seed))
                if name == "random_init_bn":
                    _recalibrate(encoder, pre_ds, int(seed), cfg.device)
            else:
                encoder, pre_s = _pretrained_encoder(
                    cfg, label, name, options, pre_ds, int(seed), out, progress, reuse
                )
            t0 = time.perf_counter()
            finetune_cfg = (
                FinetuneConfig(epochs=cfg.finetune_epochs, encoder_lr_ratio=1.0, seed=int(seed))
                if name == "supervised"
                else FinetuneConfig(epochs=cfg.finetune_epochs, seed=int(seed))
            )
            results: list[EvaluationResult] = evaluate_fractions(
                encoder, dataset, todo, protocol, seed=int(seed), device=cfg.device,
                finetune_config=finetune_cfg, n_boot=cfg.n_boot,
                min_positives_per_class=cfg.min_positives_per_class, amp=cfg.amp,
            )  # fmt: skip
            eval_s = (time.perf_counter() - t0) / len(todo)
            for res in results:
                m = res.metrics
                if res.test_scores is not None:
                    atomic_write_npz(scores_path(out, label, int(seed), res.label_fraction),
                                     scores=res.test_scores, y_test=y_test)  # fmt: skip
                row = {
                    "dataset": dataset.name, "method": label, "seed": int(seed),
                    "label_fraction": res.label_fraction, "protocol": protocol,
                    "macro_auroc": m["macro_auroc"],
                    "macro_auroc_ci_low": m.get("macro_auroc_ci_low", math.nan),
                    "macro_auroc_ci_high": m.get("macro_auroc_ci_high", math.nan),
                    "macro_auprc": m["macro_auprc"], "macro_f1": m["macro_f1"],
                    "n_train": res.n_train, "n_test": res.n_test,
                    "pretrain_seconds": round(pre_s, 1), "eval_seconds": round(eval_s, 1),
                    "encoder_params": _n_params(encoder),
                    "epochs": 0 if name in BASELINES else round(
                        budget["steps"] / max(1, n_pre // budget["batch_size"]), 2),
                    "steps": 0 if name in BASELINES else budget["steps"],
                }  # fmt: skip
                rows.append(row)
                done.add(_cell_key(row))
                log(
                    f"{label:>24} seed {seed} labels {res.label_fraction:>6.1%}: macro AUROC "
                    f"{m['macro_auroc']:.4f} [{row['macro_auroc_ci_low']:.3f}, "
                    f"{row['macro_auroc_ci_high']:.3f}]"
                )
            _write_csv(csv_path, rows)
    _write_tables(out, [r for r in rows if r["dataset"] == dataset.name], cfg,
                  None if pretrain_data is None else pre_ds.name, data["summary"])  # fmt: skip
    return rows


def _write_tables(
    out: Path, rows: list[dict[str, Any]], cfg: CompareConfig, pretrain_data: str | None,
    data_summary: str | None,
) -> None:  # fmt: skip
    """``results.md`` (the summary, then the paired gains) and ``results.png`` of one
    dataset's rows."""
    if not rows:
        return
    table = summary_table(rows, cfg, pretrain_data=pretrain_data, dataset=data_summary)
    # supervised trains the same initial weights end to end on the labels at the full rate:
    # the question "pretrain, or just train on my labels?" (under fine-tuning, random_init is
    # trained with the pretrained encoders' protocol, encoder at 0.1 x: the weaker baseline).
    gains = [g for g in (gain_table(rows, b, out) for b in ("random_init", "supervised")) if g]
    atomic_write_bytes(out / "results.md", "\n".join([table, *gains]).encode())
    plot_results(rows, out / "results.png", title=f"{rows[0]['dataset']}: {cfg.protocol} protocol")


def merge_results(
    out_dir: str | Path, sources: Sequence[str | Path], log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:  # fmt: skip
    """Merge the results folders of one comparison run in parts (e.g. disjoint ``methods``
    on two machines or cores) into ``out_dir``, and write its tables.

    Every folder must hold the same budget, protocol and data (``config.json``); refused,
    naming the difference, otherwise. Rows are united by cell (a cell already in
    ``out_dir``, or in an earlier source, is kept and the later copy skipped) and ordered by
    method (in the order the folders list them), seed and label fraction; encoders and
    test scores are copied where ``out_dir`` lacks them; ``config.json`` lists every method,
    seed and fraction. Nothing is trained or evaluated.

    Returns:
        Every row of the merged ``results.csv``.
    """
    out = Path(out_dir)
    folders = [out] if (out / "config.json").exists() else []
    folders += [Path(f) for f in sources if Path(f).resolve() != out.resolve()]
    if not folders:
        raise InvalidValueError("merge_results needs at least one results folder to merge")
    configs = []
    for f in folders:
        try:
            configs.append(_with_legacy(json.loads((f / "config.json").read_text())))
        except (OSError, ValueError) as e:
            raise InvalidValueError(
                f"cannot merge {f}: no readable config.json (expected the output folder of an "
                f"`ecgssl compare` run): {e}"
            ) from e
    merged = dict(configs[0])
    for f, c in zip(folders[1:], configs[1:]):
        what = _differences(merged, c, [*BUDGET_FIELDS, "dataset"])
        if what:
            raise InvalidValueError(
                f"cannot merge {f} into {out}: another budget or data ({what}); a table mixes "
                "only runs of the same settings."
            )
        for key in ("methods", "label_fractions", "seeds"):
            merged[key] = list(dict.fromkeys([*merged.get(key, []), *c.get(key, [])]))
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str, int, float, str]] = set()
    skipped = 0
    for f in folders:
        for r in load_results(f / "results.csv"):
            if _cell_key(r) in seen:
                skipped += 1
                continue
            seen.add(_cell_key(r))
            rows.append(r)
        for sub, pattern in (("encoders", "*.pt"), ("scores", "*.npz")):
            for src in sorted((f / sub).glob(pattern)) if f != out else []:
                if not (out / sub / src.name).exists():
                    atomic_write_bytes(out / sub / src.name, src.read_bytes())
    order = {m: i for i, m in enumerate(merged.get("methods", []))}
    rows.sort(key=lambda r: (order.get(str(r["method"]), len(order)), int(r["seed"]),
                             float(r["label_fraction"])))  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "results.csv", rows)
    atomic_write_bytes(out / "config.json", json.dumps(merged, indent=2).encode())
    cfg = CompareConfig(**{k: merged[k] for k in CompareConfig.__dataclass_fields__ if k in merged})
    # One folder holds one dataset: resuming and merging refuse other data.
    _write_tables(out, rows, cfg, merged.get("pretrain_data"),
                  (merged.get("dataset") or {}).get("summary"))  # fmt: skip
    log(f"merged {len(folders)} folder(s) into {out}: {len(rows)} cells"
        + (f" ({skipped} duplicate cell(s) kept from the first folder holding them)"
           if skipped else ""))  # fmt: skip
    return rows


def _aggregate(rows: list[dict[str, Any]]) -> dict[tuple[str, float], list[float]]:
    cells: dict[tuple[str, float], list[float]] = {}
    for r in rows:
        key = (str(r["method"]), round(float(r["label_fraction"]), 6))
        cells.setdefault(key, []).append(float(r["macro_auroc"]))
    return cells


def _method_order(rows: list[dict[str, Any]]) -> list[str]:
    """Methods in order of first appearance, the baselines last (also when a resumed
    comparison added SSL methods after them)."""
    seen = list(dict.fromkeys(str(r["method"]) for r in rows))
    return [m for m in seen if m not in BASELINES] + [m for m in seen if m in BASELINES]


def _n_labeled(rows: list[dict[str, Any]], fraction: float) -> str:
    """``"n = 13"`` (or ``"n = 12–14"`` where seeds drew different sizes) for a fraction."""
    sizes = sorted({int(float(r["n_train"])) for r in rows
                    if round(float(r["label_fraction"]), 6) == fraction and "n_train" in r})  # fmt: skip
    if not sizes:
        return ""
    return f" (n = {sizes[0]})" if len(sizes) == 1 else f" (n = {sizes[0]}–{sizes[-1]})"


def _budget_text(rows: list[dict[str, Any]], config: CompareConfig) -> str:
    """E.g. "1000 steps (50 epochs), batch 64, lr 0.001", from the rows and the config."""
    batch = config.batch_size or SHARED_BUDGET["batch_size"]
    lr = config.lr or SHARED_BUDGET["lr"]
    ssl = [r for r in rows if r.get("method") not in BASELINES and r.get("steps")]
    if ssl:
        budget = f"{int(float(ssl[0]['steps']))} steps ({float(ssl[0]['epochs']):g} epochs)"
    elif config.steps or config.epochs:
        budget = f"{config.steps} steps" if config.steps else f"{config.epochs} epochs"
    else:
        budget = "the recipes' budget"
    return f"{budget}, batch {batch}, lr {lr:g}"


def summary_table(
    rows: list[dict[str, Any]],
    config: CompareConfig | None = None,
    pretrain_data: str | None = None,
    dataset: str | None = None,
) -> str:
    """Markdown table of macro AUROC, mean ± std over seeds, one row per method; each column
    names its label fraction and the number of labeled training records it held. With
    ``config``, a header says how the rows were made; ``dataset`` (a one-line
    :meth:`ECGDataset.summary`) adds the data they were scored on."""
    cells = _aggregate(rows)
    methods = _method_order(rows)
    fractions = sorted({k[1] for k in cells})
    lines = []
    if config is not None and rows:
        params = int(float(rows[0]["encoder_params"]))
        k = config.min_positives_per_class
        sampling = (
            "plain patient-aware stratified samples of the train split (a rare class may have "
            "no positive at small fractions)" if k == 0 else
            f"stratified samples of the train split with at least {k} positive record(s) per "
            "class taken first (class-balanced few-shot sets, not plain fractions)"
        )  # fmt: skip
        source = f"`{pretrain_data}` (train split)" if pretrain_data else "its train split"
        bn = (
            "; `random_init_bn` = random init with BatchNorm statistics from the pretraining "
            "records (no training)"
            if any(r.get("method") == "random_init_bn" for r in rows) else ""
        )  # fmt: skip
        lines.append(
            f"Macro AUROC on the `{rows[0]['dataset']}` test split, mean ± std over seeds "
            f"{list(config.seeds)}; SSL methods pretrained on {source}: "
            f"{_budget_text(rows, config)}, {config.window_seconds:g} s "
            f"crops, `{config.augmentation}` views, {config.protocol} protocol; encoder "
            f"`{json.dumps(config.encoder)}` ({params:,} parameters) for every row; "
            f"`supervised` = the same encoder trained from scratch on the labels{bn}. Label "
            f"fractions are {sampling}; n = labeled training records."
            + (f" Data: {dataset}." if dataset else "")
            + "\n"
        )
    head = (
        "| method | " + " | ".join(f"{f:.0%} labels{_n_labeled(rows, f)}" for f in fractions) + " |"
    )
    lines += [head, "|---|" + "---:|" * len(fractions)]
    for m in methods:
        vals = []
        for f in fractions:
            v = cells.get((m, f), [])
            if not v:
                vals.append("–")
            elif len(v) == 1:
                vals.append(f"{v[0]:.4f}")
            else:
                vals.append(f"{np.mean(v):.4f} ± {np.std(v, ddof=1):.4f}")
        lines.append(f"| {m} | " + " | ".join(vals) + " |")
    return "\n".join(lines) + "\n"


def gain_table(
    rows: list[dict[str, Any]],
    baseline: str = "random_init",
    results_dir: str | Path | None = None,
    n_boot: int = 1000,
) -> str:
    """Markdown table of every other method's macro-AUROC gain over ``baseline``, paired by
    seed (a seed gives the baselines the SSL methods' initial weights; an entry that changes
    the encoder, such as ``bell:shared_weights=true``, starts from other weights), over the
    seeds both hold. Where ``results_dir`` (a comparison's output folder) keeps both sides'
    test scores (:func:`scores_path`), a cell gives the seed-averaged gain and its 95 % bootstrap interval over test
    records (:func:`~ecgssl.evaluation.metrics.paired_gain_ci`); otherwise mean ± std over
    seeds. Empty where ``rows`` hold no ``baseline`` row or no other method."""
    auroc = {(str(r["method"]), int(float(r["seed"])), round(float(r["label_fraction"]), 6)):
             float(r["macro_auroc"]) for r in rows}  # fmt: skip
    base = {(seed, f): v for (m, seed, f), v in auroc.items() if m == baseline}
    others = [m for m in _method_order(rows) if m != baseline]
    if not base or not others:
        return ""
    fractions = sorted({f for _, f in base})

    def interval(method: str, seeds: list[int], f: float) -> tuple[float, float, float] | None:
        if results_dir is None:
            return None
        files = [(scores_path(results_dir, method, s, f), scores_path(results_dir, baseline, s, f))
                 for s in seeds]  # fmt: skip
        if not all(a.is_file() and b.is_file() for a, b in files):
            return None
        pairs = []
        for a, b in files:
            with np.load(a) as fa, np.load(b) as fb:
                pairs.append((fa["scores"], fb["scores"]))
                y_test = fa["y_test"]
        return paired_gain_ci(y_test, pairs, n_boot=n_boot)

    lines, with_ci = [], False
    for m in others:
        vals = []
        for f in fractions:
            seeds = sorted(s for (mm, s, ff) in auroc if mm == m and ff == f and (s, f) in base)
            d = [auroc[(m, s, f)] - base[(s, f)] for s in seeds]
            ci = interval(m, seeds, f) if seeds else None
            if not d:
                vals.append("–")
            elif ci is not None:
                with_ci = True
                vals.append(f"{ci[0]:+.4f} [{ci[1]:+.4f}, {ci[2]:+.4f}] (n = {len(d)})")
            elif len(d) == 1:
                vals.append(f"{d[0]:+.4f} (n = 1)")
            else:
                vals.append(f"{np.mean(d):+.4f} ± {np.std(d, ddof=1):.4f} (n = {len(d)})")
        lines.append(f"| {m} | " + " | ".join(vals) + " |")
    spread = (
        "mean over seeds with the 95 % bootstrap interval over test records (every seed's pair "
        "scored on the same resamples), or mean ± std over seeds where scores are missing"
        if with_ci else "mean ± std over seeds"
    )  # fmt: skip
    head = [
        f"Gain over `{baseline}` (macro AUROC; each seed's difference from `{baseline}` of the "
        f"same seed, which starts from the same initial weights; {spread}; n = seeds):",
        "",
        "| method | " + " | ".join(f"{f:.0%} labels" for f in fractions) + " |",
        "|---|" + "---:|" * len(fractions),
    ]
    return "\n".join(head + lines) + "\n"


def plot_results(rows: list[dict[str, Any]], path: str | Path, title: str = "") -> Path | None:
    """Macro AUROC vs label fraction, one line per method (mean ± std over seeds).

    Needs matplotlib (``pip install ecgssl[plot]``); without it, nothing is drawn and
    ``None`` is returned.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    cells = _aggregate(rows)
    methods = _method_order(rows)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    # tab10 repeats after 10 lines: take tab20 for more, and mark the baselines apart.
    cmap = plt.get_cmap("tab10" if len(methods) <= 10 else "tab20")
    for i, m in enumerate(methods):
        fr = sorted(f for (mm, f) in cells if mm == m)
        mean = [np.mean(cells[(m, f)]) for f in fr]
        std = [np.std(cells[(m, f)]) for f in fr]
        base = m in BASELINES
        ax.errorbar(fr, mean, yerr=std, label=m, marker="s" if base else "o", capsize=3,
                    linestyle="--" if base else "-", color=cmap(i % cmap.N))  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("fraction of training labels")
    ax.set_ylabel("macro AUROC (test)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, dpi=120)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
