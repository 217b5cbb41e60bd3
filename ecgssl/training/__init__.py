"""The shared training loop, its configuration, optimisers, checkpoints, callbacks and
loggers."""

from ecgssl.training.callbacks import Callback, CallbackList, RunState
from ecgssl.training.checkpoint import (
    atomic_torch_save,
    find_checkpoints,
    latest_valid_checkpoint,
    load_checkpoint,
)
from ecgssl.training.compat import CheckpointMismatchError, check_checkpoint, load_encoder
from ecgssl.training.config import PretrainConfig
from ecgssl.training.encoder_files import EncoderFileError, read_encoder
from ecgssl.training.loggers import (
    ConsoleLogger,
    CSVLogger,
    JSONLLogger,
    TensorBoardLogger,
    default_loggers,
)
from ecgssl.training.optim import LARS, build_optimizer, warmup_cosine
from ecgssl.training.pretrainer import NonFiniteLossError, Pretrainer, PretrainResult

__all__ = [
    "LARS",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "CheckpointMismatchError",
    "ConsoleLogger",
    "EncoderFileError",
    "JSONLLogger",
    "NonFiniteLossError",
    "PretrainConfig",
    "PretrainResult",
    "Pretrainer",
    "RunState",
    "TensorBoardLogger",
    "atomic_torch_save",
    "build_optimizer",
    "check_checkpoint",
    "default_loggers",
    "find_checkpoints",
    "latest_valid_checkpoint",
    "load_checkpoint",
    "load_encoder",
    "read_encoder",
    "warmup_cosine",
]
