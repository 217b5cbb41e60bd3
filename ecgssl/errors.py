"""ecgssl's own exceptions: errors in what the user asked for, never bugs.

Every error ecgssl raises on purpose (a bad option value, a missing dataset, a wrong lead
count, a corrupt file) derives from :class:`ECGSSLError` *and* from the built-in exception a
caller would expect (``ValueError``, ``TypeError``, ``FileNotFoundError``, ``ImportError``),
so ``except ValueError`` keeps working. The command line prints an :class:`ECGSSLError` as one
line; any other exception is a bug and shows its traceback.

Example::

    try:
        ecgssl.pretrain(method="bel")
    except ecgssl.ECGSSLError as e:  # also a KeyError / ValueError
        print(e)
"""

from __future__ import annotations

__all__ = [
    "DataNotFoundError",
    "ECGSSLError",
    "InvalidTypeError",
    "InvalidValueError",
    "MissingDependencyError",
]


class ECGSSLError(Exception):
    """Base class of every error ecgssl raises about the user's input, files or environment."""


class InvalidValueError(ECGSSLError, ValueError):
    """An argument, option, configuration value or input array has an invalid value."""


class InvalidTypeError(ECGSSLError, TypeError):
    """An argument has a type ecgssl cannot use."""


class DataNotFoundError(ECGSSLError, FileNotFoundError):
    """A dataset, checkpoint or other file the user pointed at does not exist."""


class MissingDependencyError(ECGSSLError, ImportError):
    """An optional dependency (an extra such as ``ecgssl[onnx]``) is not installed."""
