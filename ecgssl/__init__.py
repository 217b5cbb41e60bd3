"""ecgssl: self-supervised learning for multi-lead electrocardiograms.

Quick start::

    import ecgssl

    result = ecgssl.pretrain(method="bell")            # built-in simulated 12-lead ECGs
    print(ecgssl.evaluate(result.encoder).macro_auroc)  # linear probe on the test split
"""

__version__ = "0.1.0.dev0"

# Importing the subpackages registers every augmentation, encoder, method and dataset.
from ecgssl import augment, data, encoders, evaluation, methods, training
from ecgssl.api import (
    build_encoder,
    embed,
    evaluate,
    list_augmentations,
    list_datasets,
    list_encoders,
    list_methods,
    load_dataset,
    pretrain,
)
from ecgssl.data.base import ECGDataset
from ecgssl.encoders.wrapped import wrap_model
from ecgssl.errors import (
    DataNotFoundError,
    ECGSSLError,
    InvalidTypeError,
    InvalidValueError,
    MissingDependencyError,
)
from ecgssl.evaluation.protocol import EvaluationResult
from ecgssl.export import export, load_exported
from ecgssl.recipes import RECIPES, Recipe, get_recipe, list_recipes
from ecgssl.registry import AUGMENTATIONS, DATASETS, ENCODERS, METHODS, Registry
from ecgssl.training import (
    EncoderFileError,
    PretrainConfig,
    Pretrainer,
    PretrainResult,
    load_encoder,
)

__all__ = [
    "AUGMENTATIONS",
    "DATASETS",
    "ENCODERS",
    "METHODS",
    "RECIPES",
    "DataNotFoundError",
    "ECGDataset",
    "ECGSSLError",
    "EncoderFileError",
    "EvaluationResult",
    "InvalidTypeError",
    "InvalidValueError",
    "MissingDependencyError",
    "PretrainConfig",
    "PretrainResult",
    "Pretrainer",
    "Recipe",
    "Registry",
    "__version__",
    "augment",
    "build_encoder",
    "data",
    "embed",
    "encoders",
    "evaluate",
    "evaluation",
    "export",
    "get_recipe",
    "list_augmentations",
    "list_datasets",
    "list_encoders",
    "list_methods",
    "list_recipes",
    "load_dataset",
    "load_encoder",
    "load_exported",
    "methods",
    "pretrain",
    "training",
    "wrap_model",
]
