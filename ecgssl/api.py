"""User entry points: :func:`pretrain`, :func:`evaluate`, :func:`embed`, ``list_*``."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn

from ecgssl.augment.base import AugSpec, TwoViews
from ecgssl.augment.policies import ssl_policy
from ecgssl.data.base import ECGDataset
from ecgssl.encoders.base import Encoder
from ecgssl.encoders.wrapped import check_rebuildable
from ecgssl.errors import InvalidTypeError, InvalidValueError
from ecgssl.evaluation.embed import embed as _embed
from ecgssl.evaluation.leakage import record_provenance
from ecgssl.evaluation.monitor import OnlineMonitor
from ecgssl.evaluation.protocol import EvaluationResult, evaluate_encoder
from ecgssl.methods.base import SSLMethod
from ecgssl.recipes import RECIPES, Recipe, get_recipe
from ecgssl.registry import AUGMENTATIONS, DATASETS, ENCODERS, METHODS
from ecgssl.training.callbacks import Callback
from ecgssl.training.config import PretrainConfig
from ecgssl.training.inputs import is_memory_mapped
from ecgssl.training.pretrainer import Pretrainer, PretrainResult

__all__ = [
    "build_encoder",
    "embed",
    "evaluate",
    "list_augmentations",
    "list_datasets",
    "list_encoders",
    "list_methods",
    "load_dataset",
    "pretrain",
]

DatasetSpec = str | Mapping[str, Any] | ECGDataset
EncoderSpec = str | Mapping[str, Any] | Encoder


def list_augmentations() -> list[str]:
    """Names of the registered augmentations."""
    return AUGMENTATIONS.list()


def list_encoders() -> list[str]:
    """Names of the registered encoders."""
    return ENCODERS.list()


def list_methods() -> list[str]:
    """Names of the registered SSL methods."""
    return METHODS.list()


def list_datasets() -> list[str]:
    """Names of the registered datasets."""
    return DATASETS.list()


def load_dataset(dataset: DatasetSpec, **kwargs: Any) -> ECGDataset:
    """Load a dataset from a registered name, a ``{"name": ..., **kwargs}`` spec, or pass an
    :class:`ECGDataset` through.

    Real databases are read from disk in their official layouts (see ``docs/datasets.md``):
    ``ptbxl``, ``physionet2021`` and its sources (``cpsc2018``, ``georgia``, ``chapman``,
    ``ningbo``, ``ptb``, ``ptbxl_cinc``, ``incart``), ``ludb`` and ``wfdb_folder``. They take
    ``root`` (the data folder), ``split`` (``"train"``/``"val"``/``"test"`` or ``None``),
    preprocessing in physical units (``fs``, ``leads``, ``window``, ``bandpass``,
    ``standardize``...) and, where the data define several, ``task``. Their preprocessed
    signals are cached, so later loads take seconds. Nothing is ever downloaded.

    Example:
        >>> ds = ecgssl.load_dataset("ptbxl", root="~/data/ptb-xl", task="rhythm", fs=100)
        >>> ds.signals.shape, ds.classes[:3], ds.subset("test")
    """
    if isinstance(dataset, ECGDataset):
        if kwargs:
            raise InvalidTypeError(
                "dataset keyword arguments cannot be applied to a loaded ECGDataset"
            )
        return dataset
    ds = DATASETS.build(dataset, **kwargs)
    if not isinstance(ds, ECGDataset):
        raise InvalidTypeError(f"dataset loader {dataset!r} returned {type(ds).__name__}")
    return ds


def build_encoder(encoder: EncoderSpec, n_leads: int, **kwargs: Any) -> Encoder:
    """Build an encoder for ``n_leads`` from a name, spec or instance (checked).

    A plain ``nn.Module`` is refused with a pointer to :func:`ecgssl.wrap_model`, and so is
    the config of a wrapped model (it cannot be rebuilt without its module).
    """
    if isinstance(encoder, Encoder):
        if encoder.n_leads != n_leads:
            raise InvalidValueError(
                f"the encoder expects {encoder.n_leads} leads but the data have {n_leads}"
            )
        return encoder
    _refuse_plain_module(encoder)
    check_rebuildable(encoder if isinstance(encoder, Mapping) else {"name": encoder}, "encoder")
    if isinstance(encoder, Mapping):
        enc = ENCODERS.build({**encoder, "n_leads": n_leads}, **kwargs)
    else:
        enc = ENCODERS.build(encoder, n_leads=n_leads, **kwargs)
    if not isinstance(enc, Encoder):
        raise InvalidTypeError(f"encoder spec {encoder!r} built {type(enc).__name__}")
    return enc


def _split_overrides(method_cls: type[SSLMethod], overrides: dict[str, Any]) -> tuple[dict, dict]:
    config_keys = PretrainConfig.field_names()
    method_params = set(inspect.signature(method_cls.__init__).parameters) - {"self", "encoder"}
    cfg, hp = {}, {}
    for k, v in overrides.items():
        if k in config_keys:
            cfg[k] = v
        elif k in method_params:
            hp[k] = v
        else:
            raise InvalidTypeError(
                f"unknown option {k!r} for method {method_cls.name!r}. Method options: "
                f"{sorted(method_params)}; training options: {sorted(config_keys)}"
            )
    return cfg, hp


def pretrain(
    method: str = "bell",
    dataset: DatasetSpec = "synthetic",
    encoder: EncoderSpec | None = None,
    *,
    epochs: int | None = None,
    augmentations: TwoViews | AugSpec | list[AugSpec] | None = None,
    window_seconds: float | None = 2.5,
    dataset_kwargs: Mapping[str, Any] | None = None,
    recipe: str | Recipe | None = "auto",
    callbacks: Sequence[Callback] | None = None,
    monitor_every: int | None = None,
    monitor: str = "knn",
    **overrides: Any,
) -> PretrainResult:
    """Pretrain an encoder with a registered SSL method.

    Args:
        method: Registered method name (``ecgssl.list_methods()``), e.g. ``"bell"``.
        dataset: Registered dataset name or spec, or an :class:`ECGDataset`; pretraining uses
            its train split only (labels are ignored).
        encoder: Encoder name/spec/instance, e.g. your own model wrapped with
            :func:`ecgssl.wrap_model`; default: the method's default encoder (``multibranch``
            for every built-in method, so methods compare on equal footing).
        epochs: Training epochs (default: :class:`PretrainConfig`'s).
        augmentations: View pipeline; default :func:`ecgssl.augment.ssl_policy` with
            ``window_seconds``.
        window_seconds: Length of the training windows cropped from each record (``None``:
            whole records).
        dataset_kwargs: Extra arguments for the dataset loader (e.g. ``{"n_records": 500}``).
        recipe: ``"auto"`` (default): the method's registered :class:`~ecgssl.recipes.Recipe`
            (budget in steps scaled to the dataset, batch size, lr, warm-up, method options
            and view strength chosen on real PTB-XL; ``docs/recipe.md``), where it has one;
            a recipe name or :class:`~ecgssl.recipes.Recipe`; or ``None`` for
            :class:`PretrainConfig`'s plain defaults. Anything given explicitly wins over the
            recipe; giving ``epochs`` or ``steps`` replaces its budget (and warm-up).
        callbacks: Extra :class:`~ecgssl.training.callbacks.Callback` s for the training
            loop (see ``docs/training.md``).
        monitor_every: Score the encoder with an online ``monitor`` probe on the dataset's
            labelled val split every N steps (:class:`~ecgssl.evaluation.OnlineMonitor`; the
            bank is its labelled train split, both capped at 512 records); the AUROC goes
            to the logs and the history as ``monitor/<probe>_macro_auroc``. ``None``: off.
        monitor: The online probe: ``"knn"`` or ``"linear"``.
        **overrides: :class:`PretrainConfig` fields (``steps``, ``lr``, ``batch_size``,
            ``device``, ``seed``, ``checkpoint_dir``, ``resume``, ``log_dir``,
            ``tensorboard``...) and method hyperparameters (``gamma``, ``temperature``,
            ``base_momentum``...).

    Returns:
        A :class:`PretrainResult` with ``.encoder``, ``.history`` and ``.checkpoint_path``.

    Warns:
        UserWarning: The recipe in use was chosen on records at another sampling rate (100 Hz
            for the built-in ones) than the dataset's, by more than a factor 2
            (:meth:`~ecgssl.recipes.Recipe.rate_warning`).

    Example:
        >>> import ecgssl
        >>> result = ecgssl.pretrain(method="bell", epochs=20, gamma=0.8)
        >>> ecgssl.evaluate(result.encoder, dataset="synthetic").macro_auroc
    """
    method_cls = cast("type[SSLMethod]", METHODS.get(method))
    if epochs is not None:
        overrides["epochs"] = epochs
    chosen = _resolve_recipe(recipe, method_cls.name)
    # Unknown options and bad values fail before any expensive work.
    PretrainConfig(**_split_overrides(method_cls, overrides)[0])
    ds = load_dataset(dataset, **dict(dataset_kwargs or {}))
    extra = list(callbacks or ())
    if monitor_every is not None:  # before training: a dataset without val labels fails now
        extra.insert(0, OnlineMonitor.from_dataset(ds, monitor_every, probe=monitor))
    if chosen is not None:
        rate = chosen.rate_warning(ds.fs, how="a loader's fs option: load_dataset(..., fs={fs:g})")
        if rate is not None:
            warnings.warn(rate, UserWarning, stacklevel=2)
        from_recipe = chosen.options(len(_train_records(ds)))
        if "epochs" in overrides or "steps" in overrides:  # the caller's budget wins
            from_recipe.pop("steps")
            from_recipe.pop("warmup_steps")
        overrides = {**from_recipe, **overrides}
    cfg_overrides, hparams = _split_overrides(method_cls, overrides)
    config = PretrainConfig(**cfg_overrides)
    torch.manual_seed(config.seed)
    spec = encoder if encoder is not None else method_cls.default_encoder(**hparams)
    enc = build_encoder(spec, ds.n_leads)
    enc.check_fs(ds.fs, f"the records of dataset {ds.name!r}")
    ssl = METHODS.build(method, encoder=enc, **hparams)
    strength = chosen.augmentation if chosen is not None else "default"
    views = augmentations if augmentations is not None else ssl_policy(window_seconds, strength)
    metadata = {
        "dataset": ds.name,
        "dataset_info": _jsonable(ds.info),
        "window_seconds": window_seconds,
        "recipe": None if chosen is None else chosen.to_dict(),
    }
    trainer = Pretrainer(ssl, augmentation=views, config=config, metadata=metadata,
                         callbacks=extra)  # fmt: skip
    result = trainer.fit(ds)
    # The Pretrainer fits on the train split only; remember which records that was, so that
    # evaluate() refuses a test split that overlaps them.
    record_provenance(result.encoder, _train_records(ds))
    return result


def _train_records(ds: ECGDataset) -> ECGDataset:
    """The train split for bookkeeping (its size, ids and metadata). The signals of a
    memory-mapped (cached, streamed) dataset are not copied: they become a zero-stride
    placeholder of the right shape."""
    if ds.split is None:
        return ds
    if not is_memory_mapped(ds.signals):
        return ds.subset("train")
    keep = np.flatnonzero(ds.split == "train")
    if keep.size == 0:
        return ds.subset("train")  # its error names the problem
    shape = (len(keep), *ds.signals.shape[1:])
    return replace(
        ds, signals=np.broadcast_to(np.zeros((1, 1, 1), ds.signals.dtype), shape),
        labels=None if ds.labels is None else ds.labels[keep], split=ds.split[keep],
        record_ids=None if ds.record_ids is None else ds.record_ids[keep],
        patient_ids=None if ds.patient_ids is None else ds.patient_ids[keep],
        record_info={k: v[keep] for k, v in ds.record_info.items()},
    )  # fmt: skip


def evaluate(
    encoder: Encoder | PretrainResult,
    dataset: DatasetSpec = "synthetic",
    protocol: str = "linear",
    label_fraction: float = 1.0,
    seed: int = 0,
    device: str = "auto",
    dataset_kwargs: Mapping[str, Any] | None = None,
    allow_leakage: bool = False,
    **protocol_options: Any,
) -> EvaluationResult:
    """Evaluate a (pretrained) encoder on a labeled dataset.

    Args:
        encoder: An encoder or the :class:`PretrainResult` of :func:`pretrain`.
        dataset: Registered name/spec or an :class:`ECGDataset` with labels and splits.
        protocol: ``"linear"`` (logistic-regression probe on frozen embeddings, C chosen on
            the validation split), ``"knn"`` (cosine k-NN on frozen embeddings) or
            ``"finetune"`` (encoder + head trained end to end, early-stopped on validation);
            always scored once on the test split.
        label_fraction: Fraction of the training labels used, in (0, 1].
        seed: Seed of the label-fraction sample.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        dataset_kwargs: Extra arguments for the dataset loader.
        allow_leakage: Score a test split that overlaps the pretraining records or patients
            (logged loudly); by default that raises :class:`ecgssl.evaluation.LeakageError`.
        **protocol_options: ``finetune_config`` (a :class:`ecgssl.evaluation.FinetuneConfig`),
            ``knn_k``, ``n_boot``, ``batch_size``.

    Returns:
        An :class:`EvaluationResult`; ``.macro_auroc`` is the primary metric.
    """
    if isinstance(encoder, PretrainResult):
        encoder = encoder.encoder
    _refuse_plain_module(encoder)
    if not isinstance(encoder, Encoder):
        raise InvalidTypeError(f"encoder must be an ecgssl Encoder, got {type(encoder).__name__}")
    ds = load_dataset(dataset, **dict(dataset_kwargs or {}))
    return evaluate_encoder(
        encoder, ds, protocol, label_fraction, seed, device, allow_leakage=allow_leakage,
        **protocol_options,
    )  # fmt: skip


def embed(
    encoder: Encoder | PretrainResult,
    signals: np.ndarray | Tensor | ECGDataset,
    batch_size: int = 256,
    device: str = "auto",
    per_lead: bool = False,
    amp: bool | str = "auto",
) -> np.ndarray:
    """Embed (records, leads, time) signals with a frozen encoder; see
    :func:`ecgssl.evaluation.embed`."""
    if isinstance(encoder, PretrainResult):
        encoder = encoder.encoder
    return _embed(
        encoder, signals, batch_size=batch_size, device=device, per_lead=per_lead, amp=amp
    )


def _refuse_plain_module(encoder: object) -> None:
    """A ``TypeError`` pointing to :func:`ecgssl.wrap_model` for a module that is no Encoder."""
    if isinstance(encoder, nn.Module) and not isinstance(encoder, Encoder):
        raise InvalidTypeError(
            f"{type(encoder).__name__} is a plain nn.Module, not an ecgssl Encoder: wrap it "
            "with ecgssl.wrap_model(module, output_dim=..., n_leads=..., fs=...), which "
            "declares and checks its signal contract"
        )


def _resolve_recipe(recipe: str | Recipe | None, method: str) -> Recipe | None:
    """The recipe a :func:`pretrain` call uses (``None``: plain config defaults)."""
    if recipe is None or isinstance(recipe, Recipe):
        chosen = recipe
    elif recipe == "auto":
        chosen = get_recipe(method) if method in RECIPES else None
    elif isinstance(recipe, str):
        chosen = get_recipe(recipe)
    else:
        raise InvalidTypeError(f"recipe must be 'auto', a name, a Recipe or None, got {recipe!r}")
    if chosen is not None and METHODS.canonical(chosen.method) != method:
        raise InvalidValueError(f"recipe for {chosen.method!r} cannot train method {method!r}")
    return chosen


def _jsonable(obj: Any) -> Any:
    """A JSON-like copy of ``obj`` (numpy scalars/arrays turned into Python values)."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
