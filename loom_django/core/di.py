"""The small DI container that builds use cases, jobs, callbacks and their services."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar, overload

from loom_django.core.errors import ResolutionError

__all__ = ["Binding", "LoomContainer", "Provider", "Scope"]

T = TypeVar("T")

Provider = Callable[[], Any]
"""A class (instantiated with no arguments) or a zero-argument callable."""

_MISSING: Any = object()


class Scope(Enum):
    """How long a resolved object lives."""

    APPLICATION = "application"
    """Created once, lazily, then shared by every caller."""
    REQUEST = "request"
    """A new object on every ``resolve``."""
    TRANSACTION = "transaction"
    """Reserved; behaves like ``REQUEST``."""


@dataclass(frozen=True, slots=True)
class Binding:
    """What the container knows about one key."""

    key: Hashable
    provider: Provider
    scope: Scope


def describe_key(key: object) -> str:
    """Readable name of a DI key for messages (classes by qualified name)."""
    if isinstance(key, type):
        module = key.__module__
        return key.__qualname__ if module == "builtins" else f"{module}.{key.__qualname__}"
    return repr(key) if not isinstance(key, str) else key


class LoomContainer:
    """Maps keys (usually types) to providers with a scope; resolution is a dict lookup.

    Framework bindings are made with the ``*_if_absent`` methods so a user DI module that
    ran earlier can pre-empt them.
    """

    __slots__ = ("_bindings", "_instances", "_lock", "_per_call", "_repo_keys", "_repos")

    def __init__(self) -> None:
        self._bindings: dict[Hashable, Binding] = {}
        self._instances: dict[Hashable, Any] = {}
        self._per_call: dict[Hashable, Provider] = {}
        self._repo_keys: dict[type[Any], Hashable] = {}
        # Repositories already built for an APPLICATION binding: one lookup per call.
        # Emptied by every change of a binding or a repository mapping.
        self._repos: dict[type[Any], Any] = {}
        self._lock = threading.RLock()

    # -- registration -------------------------------------------------------------------

    def register(
        self, key: Hashable, provider_or_class: Provider, scope: Scope = Scope.REQUEST
    ) -> None:
        """Bind ``key`` to a provider, replacing any previous binding of ``key``."""
        if not callable(provider_or_class):
            raise TypeError(
                f"Provider for {describe_key(key)} must be a class or a zero-argument callable, "
                f"got {provider_or_class!r}; use register_instance() for ready objects."
            )
        with self._lock:
            self._forget(key)
            self._bindings[key] = Binding(key, provider_or_class, scope)
            if scope is not Scope.APPLICATION:
                self._per_call[key] = provider_or_class

    def register_instance(self, key: Hashable, instance: Any) -> None:
        """Bind ``key`` to an existing object (application scope), replacing any binding."""
        with self._lock:
            self._forget(key)
            self._bindings[key] = Binding(key, _constant(instance), Scope.APPLICATION)
            self._instances[key] = instance

    def register_if_absent(
        self, key: Hashable, provider_or_class: Provider, scope: Scope = Scope.REQUEST
    ) -> bool:
        """Bind ``key`` unless it is already bound; return whether a binding was made."""
        with self._lock:
            if key in self._bindings:
                return False
            self.register(key, provider_or_class, scope)
            return True

    def register_instance_if_absent(self, key: Hashable, instance: Any) -> bool:
        """Bind ``key`` to ``instance`` unless already bound; return whether it was bound."""
        with self._lock:
            if key in self._bindings:
                return False
            self.register_instance(key, instance)
            return True

    def _forget(self, key: Hashable) -> None:
        self._repos.clear()
        self._bindings.pop(key, None)
        self._instances.pop(key, None)
        self._per_call.pop(key, None)

    # -- resolution ---------------------------------------------------------------------

    @overload
    def resolve(self, key: type[T]) -> T: ...
    @overload
    def resolve(self, key: Hashable) -> Any: ...
    def resolve(self, key: Any) -> Any:
        """Return the object bound to ``key``.

        Raises:
            ResolutionError: ``key`` is not bound, or its application provider failed.
        """
        instance = self._instances.get(key, _MISSING)
        if instance is not _MISSING:
            return instance
        provider = self._per_call.get(key)
        if provider is not None:
            return provider()
        return self._create_application(key)

    def _create_application(self, key: Hashable) -> Any:
        with self._lock:
            instance = self._instances.get(key, _MISSING)
            if instance is not _MISSING:
                return instance
            binding = self._bindings.get(key)
            if binding is None:
                raise ResolutionError(f"No binding registered for: {describe_key(key)}")
            if binding.scope is not Scope.APPLICATION:  # rebound concurrently
                return binding.provider()
            instance = binding.provider()
            self._instances[key] = instance
            return instance

    def validate(self) -> None:
        """Instantiate every APPLICATION binding now, so a broken provider fails at startup.

        Raises:
            ResolutionError: ``Failed to instantiate APPLICATION-scope binding for <key>: ...``
        """
        for key, binding in list(self._bindings.items()):
            if binding.scope is not Scope.APPLICATION:
                continue
            try:
                self.resolve(key)
            except Exception as exc:
                raise ResolutionError(
                    f"Failed to instantiate APPLICATION-scope binding for "
                    f"{describe_key(key)}: {exc}"
                ) from exc

    def is_registered(self, key: Hashable) -> bool:
        """Whether ``key`` has a binding."""
        return key in self._bindings

    __contains__ = is_registered

    def binding(self, key: Hashable) -> Binding | None:
        """The binding of ``key`` (provider and scope), or ``None``."""
        return self._bindings.get(key)

    def keys(self) -> tuple[Hashable, ...]:
        """Every bound key, in registration order."""
        return tuple(self._bindings)

    # -- repositories -------------------------------------------------------------------

    def register_repo(self, model: type[Any], key: Hashable) -> None:
        """Declare that repositories of ``model`` resolve through the binding of ``key``."""
        with self._lock:
            self._repos.clear()
            self._repo_keys[model] = key

    def resolve_repo(self, model: type[Any]) -> Any:
        """Resolve the repository bound for ``model``.

        Raises:
            ResolutionError: no repository mapping for ``model`` (or its key is unbound).
        """
        repo = self._repos.get(model, _MISSING)
        if repo is not _MISSING:
            return repo
        key = self._repo_keys.get(model, _MISSING)
        if key is _MISSING:
            raise ResolutionError(
                f"No repository mapping registered for model: {getattr(model, '__name__', model)}"
            )
        repo = self.resolve(key)
        with self._lock:
            if self._repo_keys.get(model) is key and self._instances.get(key, _MISSING) is repo:
                self._repos[model] = repo
        return repo

    def built_repositories(self) -> Mapping[type[Any], Any]:
        """The live cache of repositories ``resolve_repo`` already built, by model.

        Only APPLICATION-scoped repositories appear, and the mapping is emptied in place
        whenever a binding or a repository mapping changes, so a hit is what
        ``resolve_repo`` would return. Read it, never write it.
        """
        return self._repos

    def has_repo_mapping(self, model: type[Any]) -> bool:
        """Whether ``register_repo`` was called for ``model``."""
        return model in self._repo_keys

    def repo_key(self, model: type[Any]) -> Hashable | None:
        """The DI key repositories of ``model`` resolve through, or ``None``."""
        return self._repo_keys.get(model)


def _constant(value: Any) -> Provider:
    def provide() -> Any:
        return value

    return provide
