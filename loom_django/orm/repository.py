"""RepositoryDjango: every repository capability of a loom model on the Django ORM."""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, models

import loom_django.orm.reads as reads
import loom_django.orm.writes as writes
from loom_django.core.repository.abc.capabilities import RepoFor
from loom_django.core.repository.abc.query import (
    CursorResult,
    FilterParams,
    PageParams,
    PageResult,
    PaginationMode,
    QuerySpec,
)
from loom_django.orm.dispatch import run_db
from loom_django.orm.meta import ModelMeta, meta_for

__all__ = ["RepositoryDjango"]

M = TypeVar("M")
IdT = TypeVar("IdT")


def _model_from_generics(cls: type[Any]) -> type[Any] | None:
    for klass in cls.__mro__:
        for base in klass.__dict__.get("__orig_bases__", ()):
            origin = typing.get_origin(base)
            if isinstance(origin, type) and issubclass(origin, RepositoryDjango):
                args = typing.get_args(base)
                if args and isinstance(args[0], type):
                    return args[0]
    return None


class RepositoryDjango(RepoFor[M], Generic[M, IdT]):
    """The Django repository of loom model ``M`` with primary key type ``IdT``.

    Methods are ``async def`` but do synchronous ORM work: inside an execution they run
    on the thread holding the transaction without an event loop; from async code
    elsewhere they hop to Django's thread-sensitive executor once per call. Results are
    loom structs built straight from database rows.

    Subclass it for custom queries (``self.queryset()``, ``self.to_output(row)``, the
    :func:`~loom_django.orm.db_method` decorator) and register the subclass with
    ``@repository_for(Model)``.

    Attributes:
        allowed_filter_fields: when non-empty, the only root fields lists may filter or
            sort on (others raise ``UnsafeFilterError``).
    """

    __loom_accepts_model__ = True
    allowed_filter_fields: frozenset[str] = frozenset()

    def __init__(self, model: type[M] | None = None, using: str = DEFAULT_DB_ALIAS) -> None:
        found = model or _model_from_generics(type(self))
        if found is None:
            raise TypeError(
                f"{type(self).__name__} needs a model: RepositoryDjango(model=...) or "
                "subclass RepositoryDjango[Model, IdType]"
            )
        self.model: type[M] = found
        self.using = using
        self._meta: ModelMeta | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model.__name__}, using={self.using!r})"

    @property
    def meta(self) -> ModelMeta:
        """Cached facts about the model (fields, attnames, row maker)."""
        meta = self._meta
        if meta is None:
            meta = self._meta = meta_for(self.model)
        return meta

    @property
    def django_model(self) -> type[models.Model]:
        """The Django model storing ``M``."""
        return self.meta.django

    @property
    def attnames(self) -> tuple[str, ...]:
        """Django attnames of the columns, in the order :meth:`to_output` expects rows."""
        return self.meta.attnames

    def queryset(self) -> models.QuerySet[Any]:
        """A queryset of the Django model on this repository's database."""
        return self.meta.queryset(self.using)

    def to_output(self, source: models.Model | Sequence[Any] | Mapping[str, Any]) -> M:
        """A struct from a Django instance, a row in :attr:`attnames` order, or a dict."""
        meta = self.meta
        if isinstance(source, models.Model):
            row: Sequence[Any] = [getattr(source, attname) for attname in meta.attnames]
        elif isinstance(source, Mapping):
            row = [source[name] for name in meta.columns]
        else:
            row = source
        result: M = meta.make(row)
        return result

    async def get_by_id(self, obj_id: IdT, profile: str = "default") -> M | None:
        """The entity with primary key ``obj_id`` loaded for ``profile``, or None."""
        return await run_db(reads.get_by_id, self.meta, self.using, obj_id, profile)

    async def get_by(self, field: str, value: Any, profile: str = "default") -> M | None:
        """The first entity (by primary key) whose column ``field`` equals ``value``.

        Raises:
            ValueError: ``field`` is not a column of the model.
        """
        return await run_db(reads.get_by, self.meta, self.using, field, value, profile)

    async def exists_by(self, field: str, value: Any) -> bool:
        """Whether any entity has ``field == value``."""
        return await run_db(reads.exists_by, self.meta, self.using, field, value)

    async def exists(self, obj_id: IdT) -> bool:
        """Whether an entity with primary key ``obj_id`` exists."""
        return await run_db(reads.exists_by, self.meta, self.using, self.meta.pk, obj_id)

    async def count(self) -> int:
        """Number of stored entities."""
        return await run_db(reads.count, self.meta, self.using)

    async def create(self, data: Any) -> M:
        """Insert ``data`` (a struct, command or dict) in one INSERT; the stored entity.

        Raises:
            Conflict: a unique, foreign-key, not-null or check constraint is violated.
            ValidationError: a value is too long or does not fit its column.
        """
        return await run_db(writes.create, self.meta, self.using, data)

    async def update(self, obj_id: IdT, data: Any) -> M | None:
        """Write the write set of ``data`` in one ``UPDATE … RETURNING``; None if missing.

        On-update columns (``updated_at``) are set to the database clock as well.
        """
        return await run_db(writes.update, self.meta, self.using, obj_id, data)

    async def delete(self, obj_id: IdT) -> bool:
        """Delete through Django's deletion collector; True if the row existed.

        Raises:
            Conflict: rows of a model referencing it with RESTRICT/PROTECT block it.
        """
        return await run_db(writes.delete, self.meta, self.using, obj_id)

    async def list_with_query(
        self, query: QuerySpec, profile: str = "default"
    ) -> PageResult[M] | CursorResult[M]:
        """A page of ``query``: filters, sort, offset or keyset cursor pagination.

        Raises:
            FilterPathError: a filter or sort names an unknown field.
            UnsafeFilterError: the field is outside ``allowed_filter_fields``.
            BadRequest: the cursor token is invalid or was issued for another sort.
        """
        return await run_db(
            reads.list_page, self.meta, self.using, query, profile, self.allowed_filter_fields
        )

    async def list_paginated(
        self,
        page_params: PageParams,
        filter_params: FilterParams | None = None,
        profile: str = "default",
    ) -> PageResult[M]:
        """An offset page of rows equal to ``filter_params.filters``, by primary key."""
        return await run_db(self._list_paginated, page_params, filter_params, profile)

    def _list_paginated(
        self, page_params: PageParams, filter_params: FilterParams | None, profile: str
    ) -> PageResult[M]:
        from loom_django.core.repository.abc.query import FilterGroup, FilterOp, FilterSpec

        equals = dict(filter_params.filters) if filter_params is not None else {}
        for key in equals:
            reads.column_name(self.meta, key)
        specs = tuple(FilterSpec(key, FilterOp.EQ, value) for key, value in equals.items())
        query = QuerySpec(
            filters=FilterGroup(filters=specs) if specs else None,
            pagination=PaginationMode.OFFSET,
            limit=page_params.limit,
            page=page_params.page,
        )
        result = reads.list_page(self.meta, self.using, query, profile, frozenset())
        assert isinstance(result, PageResult)
        return result
