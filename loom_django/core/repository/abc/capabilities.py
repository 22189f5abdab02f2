"""Capability protocols of repositories; each one is also a DI key (``Readable[Product]``)."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, runtime_checkable

from loom_django.core.repository.abc.query import (
    CursorResult,
    FilterParams,
    PageParams,
    PageResult,
    QuerySpec,
)

__all__ = [
    "CAPABILITIES",
    "Countable",
    "Creatable",
    "Deletable",
    "Listable",
    "Readable",
    "RepoFor",
    "Updatable",
]

M = TypeVar("M", covariant=True)


@runtime_checkable
class Readable(Protocol[M]):
    """Look entities up by primary key or by one column."""

    async def get_by_id(self, obj_id: Any, profile: str = "default") -> M | None:
        """The entity with primary key ``obj_id``, or ``None``."""
        ...

    async def get_by(self, field: str, value: Any, profile: str = "default") -> M | None:
        """The first entity (by primary key) whose ``field`` equals ``value``, or ``None``."""
        ...


@runtime_checkable
class Creatable(Protocol[M]):
    """Insert entities."""

    async def create(self, data: Any) -> M:
        """Insert ``data`` (a struct or a dict) and return the stored entity."""
        ...


@runtime_checkable
class Updatable(Protocol[M]):
    """Partially update entities."""

    async def update(self, obj_id: Any, data: Any) -> M | None:
        """Write the write set of ``data``; the updated entity, or ``None`` if missing."""
        ...


@runtime_checkable
class Deletable(Protocol[M]):
    """Delete entities."""

    async def delete(self, obj_id: Any) -> bool:
        """``True`` when a row existed and was deleted."""
        ...


@runtime_checkable
class Listable(Protocol[M]):
    """List entities page by page."""

    async def list_paginated(
        self,
        page_params: PageParams,
        filter_params: FilterParams | None = None,
        profile: str = "default",
    ) -> PageResult[M]:
        """Equality-filtered page ordered by primary key."""
        ...

    async def list_with_query(
        self, query: QuerySpec, profile: str = "default"
    ) -> PageResult[M] | CursorResult[M]:
        """Filtered, sorted page in offset or cursor mode."""
        ...


@runtime_checkable
class Countable(Protocol[M]):
    """Existence checks and counts."""

    async def exists_by(self, field: str, value: Any) -> bool:
        """Whether any entity has ``field == value``."""
        ...

    async def count(self) -> int:
        """Number of stored entities."""
        ...


@runtime_checkable
class RepoFor(
    Readable[M], Creatable[M], Updatable[M], Deletable[M], Listable[M], Countable[M], Protocol[M]
):
    """All six capabilities: the default main-repository contract of a use case."""


CAPABILITIES: tuple[type[Any], ...] = (
    Readable,
    Creatable,
    Updatable,
    Deletable,
    Listable,
    Countable,
)
"""The six standard capabilities, in the order their DI keys are bound."""
