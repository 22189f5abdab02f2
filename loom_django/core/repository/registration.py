"""Registering custom repositories for models and computing the DI keys they are bound under."""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from loom_django.core.repository.abc.capabilities import CAPABILITIES, RepoFor

__all__ = [
    "DefaultRepositoryBuilder",
    "RepositoryBuildContext",
    "RepositoryRegistration",
    "RepositoryToken",
    "get_repository_registration",
    "repository_capabilities",
    "repository_for",
    "repository_keys",
]

R = TypeVar("R", bound=type[Any])

_STANDARD: tuple[type[Any], ...] = (RepoFor, *CAPABILITIES)


@dataclass(frozen=True)
class RepositoryToken:
    """The DI key of the concrete repository instance of ``model``."""

    model: type[Any]


@dataclass(frozen=True)
class RepositoryBuildContext:
    """What a registration ``builder`` receives: the model and the DI container."""

    model: type[Any]
    container: Any


class DefaultRepositoryBuilder(Protocol):
    """Builds the repository of a model that has no registered custom class."""

    def build(self, model: type[Any]) -> Any:
        """Return a repository instance for ``model``."""
        ...


@dataclass(frozen=True)
class RepositoryRegistration:
    """A custom repository class registered for a model by :func:`repository_for`."""

    model: type[Any]
    repository_class: type[Any]
    builder: Callable[[RepositoryBuildContext], Any] | None = None
    contract: Any = None


def get_repository_registration(model: type[Any]) -> RepositoryRegistration | None:
    """The registration made for ``model`` itself (not inherited), or ``None``."""
    found = model.__dict__.get("__loom_repository__")
    return found if isinstance(found, RepositoryRegistration) else None


def repository_for(
    model: type[Any],
    *,
    builder: Callable[[RepositoryBuildContext], Any] | None = None,
    contract: Any = None,
) -> Callable[[R], R]:
    """Class decorator registering the decorated repository class for ``model``.

    The registration is stored on the model as ``__loom_repository__``; registering the
    same class again is a no-op.

    Raises:
        RuntimeError: another class is already registered for ``model``.
    """

    def decorate(repo_cls: R) -> R:
        existing = get_repository_registration(model)
        if existing is not None:
            if existing.repository_class is repo_cls:
                return repo_cls
            raise RuntimeError(
                f"Repository already registered for model {model.__name__}: "
                f"{existing.repository_class.__name__}"
            )
        model.__loom_repository__ = RepositoryRegistration(
            model=model, repository_class=repo_cls, builder=builder, contract=contract
        )
        return repo_cls

    return decorate


def _bases(cls: type[Any]) -> tuple[Any, ...]:
    return tuple(cls.__dict__.get("__orig_bases__", cls.__bases__))


def _walk(node: Any, mapping: dict[Any, Any], model: type[Any], found: dict[Any, None]) -> None:
    origin = typing.get_origin(node) or node
    if not isinstance(origin, type) or origin in (object, typing.Generic, Protocol):
        return
    args = tuple(mapping.get(a, a) if isinstance(a, TypeVar) else a for a in typing.get_args(node))
    if origin in _STANDARD:
        target = args[0] if args else model
        if isinstance(target, TypeVar) or target is Any or target is model:
            found[origin] = None
    params = getattr(origin, "__parameters__", ())
    scope = dict(zip(params, args, strict=False))
    for base in _bases(origin):
        _walk(base, scope, model, found)


def repository_capabilities(repo_cls: type[Any], model: type[Any]) -> tuple[type[Any], ...]:
    """The standard capability protocols (``Readable`` ...) ``repo_cls`` declares for ``model``.

    Found through the generic bases of the class MRO (type variables are followed, an
    unbound one counts as ``model``); ``RepoFor`` implies all six.
    """
    found: dict[Any, None] = {}
    _walk(repo_cls, {}, model, found)
    return tuple(cap for cap in _STANDARD if cap in found)


def repository_keys(
    repo_cls: type[Any] | None, model: type[Any], contract: Any = None
) -> tuple[Any, ...]:
    """DI keys a repository of ``model`` is bound under.

    ``Capability[model]`` for each capability :func:`repository_capabilities` finds,
    then every direct base of ``repo_cls`` that is itself a Protocol (custom contracts
    such as ``ProductRepo(RepoFor[Product], Protocol)``), then ``contract``. With
    ``repo_cls=None`` (the default repository): ``RepoFor[model]`` and the six
    capabilities. The first key is the main-repository key.
    """
    keys: dict[Any, None] = {}
    if repo_cls is None:
        capabilities: tuple[type[Any], ...] = _STANDARD
    else:
        capabilities = repository_capabilities(repo_cls, model)
    for capability in capabilities:
        keys[capability[model]] = None
    if repo_cls is not None:
        for base in _bases(repo_cls):
            origin = typing.get_origin(base) or base
            if origin in _STANDARD or origin is Protocol:
                continue
            if isinstance(origin, type) and getattr(origin, "_is_protocol", False):
                keys[base] = None
    if contract is not None:
        keys[contract] = None
    return tuple(keys)
