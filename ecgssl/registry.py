"""One generic name -> factory registry, reused by every pluggable kind.

Augmentations, encoders, SSL methods and datasets each get a :class:`Registry`.
A component registers itself with a decorator::

    from ecgssl.registry import ENCODERS

    @ENCODERS.register("my_encoder", "my_alias")
    class MyEncoder(Encoder):
        ...

and is built from a name or from a ``{"name": ..., **kwargs}`` mapping::

    ENCODERS.build("my_encoder", n_leads=12)
    ENCODERS.build({"name": "my_encoder", "width": 64}, n_leads=12)

An unknown name raises :class:`KeyError` listing the closest registered names.
"""

from __future__ import annotations

import builtins
import difflib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from ecgssl.errors import ECGSSLError, InvalidTypeError, InvalidValueError

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["AUGMENTATIONS", "DATASETS", "ENCODERS", "METHODS", "Registry", "UnknownNameError"]


class UnknownNameError(ECGSSLError, KeyError, ValueError):
    """Raised when a name is not registered; the message lists close matches.

    It subclasses both :class:`KeyError` (a failed lookup) and :class:`ValueError`
    (a bad configuration value) so either ``except`` clause catches it.
    """

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class Registry(Generic[T]):
    """A case-insensitive mapping from names (and aliases) to factories.

    Args:
        kind: What the registry holds, used in error messages ("encoder", "method", ...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}
        self._aliases: dict[str, str] = {}

    @staticmethod
    def _key(name: str) -> str:
        return name.strip().lower().replace("-", "_")

    def register(self, name: str, *aliases: str) -> Callable[[F], F]:
        """Decorator registering a class or function under ``name`` and ``aliases``.

        Raises:
            ValueError: if the name or an alias is already taken.
        """

        def decorator(factory: F) -> F:
            key = self._key(name)
            for k in (key, *map(self._key, aliases)):
                if k in self._factories or k in self._aliases:
                    raise InvalidValueError(f"{self.kind} name {k!r} is already registered")
            self._factories[key] = factory
            for alias in aliases:
                self._aliases[self._key(alias)] = key
            return factory

        return decorator

    def canonical(self, name: str) -> str:
        """The canonical registered name for ``name`` or one of its aliases."""
        if not isinstance(name, str):
            raise InvalidTypeError(f"{self.kind} name must be a string, got {type(name).__name__}")
        key = self._key(name)
        key = self._aliases.get(key, key)
        if key not in self._factories:
            candidates = [*self._factories, *self._aliases]
            close = difflib.get_close_matches(key, candidates, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}.{hint} Registered {self.kind}s: "
                f"{', '.join(self.list())}."
            )
        return key

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered under ``name`` (or an alias)."""
        return self._factories[self.canonical(name)]

    def build(self, spec: str | Mapping[str, Any], **kwargs: Any) -> T:
        """Build a component from a name or a ``{"name": ..., **kwargs}`` mapping.

        Keyword arguments given here fill in values the mapping does not set.
        """
        if isinstance(spec, str):
            return self.get(spec)(**kwargs)
        if isinstance(spec, Mapping):
            if "name" not in spec:
                raise InvalidValueError(
                    f"a {self.kind} spec mapping needs a 'name' key, got {dict(spec)}"
                )
            params = {k: v for k, v in spec.items() if k != "name"}
            return self.get(spec["name"])(**{**kwargs, **params})
        raise InvalidTypeError(
            f"a {self.kind} spec must be a name or a mapping with a 'name' key, "
            f"got {type(spec).__name__}"
        )

    def list(self) -> builtins.list[str]:
        """Sorted canonical names (aliases are not listed)."""
        return sorted(self._factories)

    def aliases(self, name: str) -> builtins.list[str]:
        """The aliases registered for ``name``."""
        key = self.canonical(name)
        return sorted(a for a, k in self._aliases.items() if k == key)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = self._key(name)
        return key in self._factories or key in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self._factories)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.list()})"


AUGMENTATIONS: Registry[Any] = Registry("augmentation")
ENCODERS: Registry[Any] = Registry("encoder")
METHODS: Registry[Any] = Registry("method")
DATASETS: Registry[Any] = Registry("dataset")
