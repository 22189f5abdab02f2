"""InMemoryRepository: a dict-backed RepoFor implementation for testing use cases."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import msgspec

from loom_django.core.errors import (
    Conflict,
    FilterPathError,
    UniqueConflict,
    UnsafeFilterError,
    ValidationError,
)
from loom_django.core.model.introspection import column_map, get_relations, model_profiles
from loom_django.core.repository.abc.query import (
    MAX_LIMIT,
    CursorResult,
    FilterParams,
    PageParams,
    PageResult,
    PaginationMode,
    QuerySpec,
    build_page_result,
)
from loom_django.core.repository.cursor import cursor_ordering, decode_cursor, encode_cursor
from loom_django.core.repository.write_set import write_values
from loom_django.testing._memory_query import MemoryQuery
from loom_django.testing._memory_relations import (
    RelationSource,
    load_profile,
    relation_resolver,
)
from loom_django.testing._memory_rows import fill_generated, later_than, sortable

__all__ = ["InMemoryRepository"]

M = TypeVar("M", bound=msgspec.Struct)


class InMemoryRepository(Generic[M]):
    """Every ``RepoFor`` method over a dict, with the Django repository's semantics.

    The ``async`` methods never suspend, so the engine can drive them synchronously.
    Relations are read from ``relations`` (``{name: callable(entity) | other
    InMemoryRepository}``) or from relation values given to :meth:`seed`; projections
    are computed with their loaders from those rows.
    """

    allowed_filter_fields: frozenset[str] = frozenset()

    def __init__(
        self,
        model: type[M],
        id_field: str = "id",
        creator: Callable[[dict[str, Any]], M] | None = None,
        *,
        relations: Mapping[str, RelationSource] | None = None,
        allowed_filter_fields: frozenset[str] | None = None,
    ) -> None:
        self.model = model
        self.id_field = id_field
        self._creator = creator
        self._columns = column_map(model)
        if id_field not in self._columns:
            raise ValueError(f"Unknown id field '{id_field}' for model '{model.__name__}'")
        self._id_type = self._columns[id_field].python_type
        self._names = {name: name for name in self._columns} | {
            info.encode_name: name for name, info in self._columns.items()
        }
        self._relations = get_relations(model)
        self._resolvers: dict[str, Callable[[Any], Any]] = {}
        self._rows: dict[Any, M] = {}
        self._seeded: dict[Any, dict[str, Any]] = {}
        self._next_id = 1
        if allowed_filter_fields is not None:
            self.allowed_filter_fields = frozenset(allowed_filter_fields)
        for name, source in (relations or {}).items():
            self.link(name, source)

    # -- setup ----------------------------------------------------------------------

    def link(self, relation: str, source: RelationSource) -> None:
        """Read ``relation`` from a callable ``fn(entity)`` or another in-memory repository."""
        if relation not in self._relations:
            raise ValueError(f"Unknown relation '{relation}' for model '{self.model.__name__}'")
        self._resolvers[relation] = relation_resolver(
            self._relations[relation], source, self.id_field
        )

    def seed(self, *items: Any) -> tuple[M, ...]:
        """Store entities (model instances or dicts) as they are; returns the stored rows.

        Relation values found on the items are kept and served for their profiles.
        """
        stored: list[M] = []
        for item in items:
            data = msgspec.structs.asdict(item) if isinstance(item, msgspec.Struct) else item
            values: dict[str, Any] = {}
            related: dict[str, Any] = {}
            for key, value in dict(data).items():
                if key in self._relations and value is not msgspec.UNSET:
                    related[key] = value
                elif (name := self._names.get(key)) is not None:
                    values[name] = value
            stored.append(self._insert(values, related))
        return tuple(stored)

    def all(self) -> tuple[M, ...]:
        """Every stored row (no relations), in primary-key order."""
        return tuple(self._ordered())

    def snapshot(self) -> Any:
        """An opaque copy of the current contents, for :meth:`restore`."""
        seeded = {key: dict(value) for key, value in self._seeded.items()}
        return dict(self._rows), seeded, self._next_id

    def restore(self, state: Any) -> None:
        """Return to a state taken by :meth:`snapshot` (used to roll back)."""
        rows, seeded, next_id = state
        self._rows, self._seeded, self._next_id = dict(rows), dict(seeded), next_id

    # -- reads ----------------------------------------------------------------------

    async def get_by_id(self, obj_id: Any, profile: str = "default") -> M | None:
        """The entity with primary key ``obj_id``, or ``None``."""
        self._check_profile(profile)
        row = self._rows.get(self._key(obj_id))
        return None if row is None else self._output(row, profile)

    async def get_by(self, field: str, value: Any, profile: str = "default") -> M | None:
        """The first entity (by primary key) with ``field == value``, or ``None``."""
        self._check_profile(profile)
        name = self._field(field)
        row = next((r for r in self._ordered() if getattr(r, name) == value), None)
        return None if row is None else self._output(row, profile)

    async def exists(self, obj_id: Any) -> bool:
        """Whether a row with primary key ``obj_id`` exists."""
        return self._key(obj_id) in self._rows

    async def exists_by(self, field: str, value: Any) -> bool:
        """Whether any row has ``field == value``."""
        name = self._field(field)
        return any(getattr(row, name) == value for row in self._rows.values())

    async def count(self) -> int:
        """Number of stored rows."""
        return len(self._rows)

    async def list_paginated(
        self,
        page_params: PageParams,
        filter_params: FilterParams | None = None,
        profile: str = "default",
    ) -> PageResult[M]:
        """Rows equal to every filter value, ordered by primary key."""
        self._check_profile(profile)
        wanted: dict[str, Any] = {}
        for key, value in (filter_params.filters if filter_params else {}).items():
            name = self._names.get(key)
            if self.allowed_filter_fields and (name or key) not in self.allowed_filter_fields:
                raise UnsafeFilterError(name or key)
            if name is None:
                raise FilterPathError(key)
            wanted[name] = value
        rows = [r for r in self._ordered() if all(getattr(r, k) == v for k, v in wanted.items())]
        start = page_params.offset
        items = [self._output(r, profile) for r in rows[start : start + page_params.limit]]
        return build_page_result(items, len(rows), page_params)

    async def list_with_query(
        self, query: QuerySpec, profile: str = "default"
    ) -> PageResult[M] | CursorResult[M]:
        """Filtered, sorted page in offset or keyset-cursor mode (§11)."""
        self._check_profile(profile)
        engine = MemoryQuery(self.model, self._relation_value, self.allowed_filter_fields)
        predicate = engine.compile(query.filters)
        limit = max(1, min(query.limit, MAX_LIMIT))
        cursor_mode = PaginationMode(query.pagination) is PaginationMode.CURSOR
        ordering = cursor_ordering(query.sort, self.id_field)
        keys_of = engine.sort_keys(ordering)
        rows = [r for r in self._rows.values() if predicate(r)]
        keys = [keys_of(r) for r in rows]
        ordered = MemoryQuery.sort(rows, keys, ordering)
        if not cursor_mode:
            page = max(1, query.page)
            start = (page - 1) * limit
            items = [self._output(r, profile) for r in ordered[start : start + limit]]
            if not query.count:
                return PageResult(
                    items=tuple(items),
                    total_count=None,
                    page=page,
                    limit=limit,
                    has_next=len(ordered) > start + limit,
                )
            return build_page_result(items, len(ordered), PageParams(page=page, limit=limit))
        if query.cursor:
            bound = decode_cursor(query.cursor, ordering, engine.types(ordering))
            ordered = [r for r in ordered if MemoryQuery.after(keys_of(r), bound, ordering)]
        window = ordered[: limit + 1]
        has_next = len(window) > limit
        page_rows = window[:limit]
        next_cursor = encode_cursor(ordering, keys_of(page_rows[-1])) if has_next else None
        loaded = tuple(self._output(r, profile) for r in page_rows)
        return CursorResult(items=loaded, next_cursor=next_cursor, has_next=has_next)

    # -- writes ---------------------------------------------------------------------

    async def create(self, data: Any) -> M:
        """Insert ``data``: ids auto-increment, defaults apply, server timestamps are now."""
        return self._insert(write_values(self.model, data, for_create=True), {})

    async def update(self, obj_id: Any, data: Any) -> M | None:
        """Write the write set of ``data`` and bump on-update columns; ``None`` if missing."""
        key = self._key(obj_id)
        row = self._rows.get(key)
        if row is None:
            return None
        values = write_values(self.model, data)
        for name, info in self._columns.items():
            if info.field.server_onupdate is not None:
                values[name] = later_than(getattr(row, name))
        self._check_unique(values, exclude=key)
        updated = msgspec.structs.replace(row, **values)
        self._rows[key] = updated
        return updated

    async def delete(self, obj_id: Any) -> bool:
        """``True`` when the row existed and was removed."""
        key = self._key(obj_id)
        self._seeded.pop(key, None)
        return self._rows.pop(key, None) is not None

    # -- internals ------------------------------------------------------------------

    def _key(self, obj_id: Any) -> Any:
        if not isinstance(self._id_type, type) or isinstance(obj_id, self._id_type):
            return obj_id
        try:
            return msgspec.convert(obj_id, self._id_type, strict=False)
        except msgspec.ValidationError:
            return obj_id

    def _field(self, field: str) -> str:
        name = self._names.get(field)
        if name is None:
            raise ValueError(f"Unknown field '{field}' for model '{self.model.__name__}'")
        return name

    def _ordered(self) -> list[M]:
        return [self._rows[k] for k in sorted(self._rows, key=sortable)]

    def _check_profile(self, profile: str) -> None:
        if profile not in model_profiles(self.model):
            known = ", ".join(sorted(model_profiles(self.model)))
            raise ValidationError(
                [("profile", f"Unknown profile '{profile}' for {self.model.__name__} ({known})")]
            )

    def _insert(self, values: dict[str, Any], related: dict[str, Any]) -> M:
        now = dt.datetime.now(dt.UTC)
        if values.get(self.id_field) is None:
            values[self.id_field] = self._new_id()
        key = values[self.id_field]
        if key in self._rows:
            raise Conflict(f"A record with these values already exists ({self.id_field}).")
        if isinstance(key, int):
            self._next_id = max(self._next_id, key + 1)
        fill_generated(self._columns, values, now)
        self._check_unique(values, exclude=None)
        row = self._creator(values) if self._creator else self.model(**values)
        self._rows[key] = row
        if related:
            self._seeded[key] = related
        return row

    def _new_id(self) -> Any:
        if self._id_type is uuid.UUID:
            return uuid.uuid4()
        if self._id_type is not int:
            raise ValueError(f"{self.model.__name__}.{self.id_field} needs an explicit value")
        value = self._next_id
        self._next_id += 1
        return value

    def _check_unique(self, values: dict[str, Any], exclude: Any) -> None:
        for name, value in values.items():
            if value is None or not self._columns[name].field.unique:
                continue
            for key, row in self._rows.items():
                if key != exclude and getattr(row, name) == value:
                    raise UniqueConflict(
                        f"A record with these values already exists ({name}).",
                        table=getattr(self.model, "__tablename__", None),
                        columns=(name,),
                    )

    def _relation_value(self, row: Any, name: str) -> Any:
        resolver = self._resolvers.get(name)
        if resolver is not None:
            return resolver(row)
        seeded = self._seeded.get(getattr(row, self.id_field))
        return seeded.get(name, msgspec.UNSET) if seeded else msgspec.UNSET

    def _output(self, row: M, profile: str) -> M:
        return load_profile(self.model, row, profile, self._relation_value)
