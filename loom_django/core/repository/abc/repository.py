"""Generic repository protocols with separate output, input and id types."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from loom_django.core.repository.abc.query import (
    CursorResult,
    FilterParams,
    PageParams,
    PageResult,
    QuerySpec,
)

__all__ = ["Repository", "RepositoryRead", "RepositoryWrite"]

OutputT = TypeVar("OutputT", covariant=True)
CreateT = TypeVar("CreateT", contravariant=True)
UpdateT = TypeVar("UpdateT", contravariant=True)
IdT = TypeVar("IdT", contravariant=True)


class RepositoryRead(Protocol[OutputT, IdT]):
    """Read side of a repository (same semantics as ``Readable``/``Listable``/``Countable``)."""

    async def get_by_id(self, obj_id: IdT, profile: str = "default") -> OutputT | None:
        """The entity with primary key ``obj_id``, or ``None``."""
        ...

    async def get_by(self, field: str, value: Any, profile: str = "default") -> OutputT | None:
        """The first entity whose ``field`` equals ``value``, or ``None``."""
        ...

    async def list_paginated(
        self,
        page_params: PageParams,
        filter_params: FilterParams | None = None,
        profile: str = "default",
    ) -> PageResult[OutputT]:
        """Equality-filtered page ordered by primary key."""
        ...

    async def list_with_query(
        self, query: QuerySpec, profile: str = "default"
    ) -> PageResult[OutputT] | CursorResult[OutputT]:
        """Filtered, sorted page in offset or cursor mode."""
        ...

    async def exists_by(self, field: str, value: Any) -> bool:
        """Whether any entity has ``field == value``."""
        ...

    async def count(self) -> int:
        """Number of stored entities."""
        ...


class RepositoryWrite(Protocol[OutputT, CreateT, UpdateT, IdT]):
    """Write side of a repository."""

    async def create(self, data: CreateT) -> OutputT:
        """Insert ``data`` and return the stored entity."""
        ...

    async def update(self, obj_id: IdT, data: UpdateT) -> OutputT | None:
        """Partially update; ``None`` when the id does not exist."""
        ...

    async def delete(self, obj_id: IdT) -> bool:
        """``True`` when a row existed and was deleted."""
        ...


class Repository(
    RepositoryRead[OutputT, IdT],
    RepositoryWrite[OutputT, CreateT, UpdateT, IdT],
    Protocol[OutputT, CreateT, UpdateT, IdT],
):
    """A full repository: read and write."""
