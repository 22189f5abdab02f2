"""Repository reads: by id, by field, exists, count, and list pages (offset and keyset cursor)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from loom_django.core.repository.abc.query import (
    MAX_LIMIT,
    CursorResult,
    PageResult,
    PaginationMode,
    QuerySpec,
    SortSpec,
)
from loom_django.core.repository.cursor import decode_cursor, encode_cursor
from loom_django.orm.meta import ModelMeta
from loom_django.orm.profiles import ProfilePlan, load_rows, profile_plan
from loom_django.orm.query import Path, build_q, keyset_q, ordering, resolve_path, sort_paths
from loom_django.orm.statements import statements_for
from loom_django.orm.values import connection_for, database_errors, prep_lookup

__all__ = ["column_name", "count", "exists_by", "get_by", "get_by_id", "list_page"]


def column_name(meta: ModelMeta, field: str) -> str:
    """The Python name of column ``field`` (camelCase accepted).

    Raises:
        ValueError: ``Unknown field '<f>' for model '<M>'``.
    """
    name = meta.names.get(field)
    if name is None or name not in meta.lookup:
        raise ValueError(f"Unknown field '{field}' for model '{meta.entity}'")
    return name


def _select(plan: ProfilePlan, qs: QuerySet[Any], extra: tuple[str, ...] = ()) -> QuerySet[Any]:
    if plan.annotations:
        qs = qs.annotate(**plan.annotations)
    return qs.values_list(*plan.values, *extra)


def get_by_id(meta: ModelMeta, using: str, obj_id: Any, profile: str) -> Any:
    """The entity with primary key ``obj_id`` (one query for the default profile) or None."""
    plan = profile_plan(meta, profile)
    if plan.simple:
        st = statements_for(meta, using)
        connection = connection_for(using)
        value = prep_lookup(meta, meta.pk, obj_id, connection)
        with database_errors(), connection.cursor() as cursor:
            cursor.execute(st.get_sql, [value])
            row = cursor.fetchone()
        return None if row is None else meta.make(st.convert(row))
    return get_by(meta, using, meta.pk, obj_id, profile)


def get_by(meta: ModelMeta, using: str, field: str, value: Any, profile: str) -> Any:
    """The first entity (by primary key) whose ``field`` equals ``value``, or None."""
    name = column_name(meta, field)
    plan = profile_plan(meta, profile)
    qs = meta.queryset(using).filter(**{meta.lookup[name]: value}).order_by(meta.pk_field.attname)
    with database_errors():
        rows = list(_select(plan, qs)[:1])
    return load_rows(meta, plan, rows, using)[0] if rows else None


def exists_by(meta: ModelMeta, using: str, field: str, value: Any) -> bool:
    """Whether any row has ``field == value`` (``IS NULL`` for None)."""
    name = column_name(meta, field)
    if value is None:
        return bool(meta.queryset(using).filter(**{f"{meta.lookup[name]}__isnull": True}).exists())
    connection = connection_for(using)
    sql = statements_for(meta, using).exists_sql(name)
    param = prep_lookup(meta, name, value, connection)
    with database_errors(), connection.cursor() as cursor:
        cursor.execute(sql, [param])
        return cursor.fetchone() is not None


def count(meta: ModelMeta, using: str) -> int:
    """Number of rows."""
    with connection_for(using).cursor() as cursor:
        cursor.execute(statements_for(meta, using).count_sql)
        return int(cursor.fetchone()[0])


def _clamp(limit: int) -> int:
    return max(1, min(int(limit), MAX_LIMIT))


_CACHED_SHAPES = 128


def _ordered(
    meta: ModelMeta,
    using: str,
    plan: ProfilePlan,
    paths: list[tuple[SortSpec, Path]],
    vendor: str,
) -> QuerySet[Any]:
    """The ordered ``values_list`` queryset of one (profile, sort) shape, built once.

    Querysets are cloned by ``filter()`` and slicing, so the cached one is never changed.
    """
    cache: dict[tuple[Any, ...], QuerySet[Any]] = meta.__dict__.setdefault("_ordered", {})
    key = (using, vendor, id(plan), tuple((spec.field, spec.direction) for spec, _ in paths))
    found = cache.get(key)
    if found is None:
        extra = tuple(path.lookup for _, path in paths if path.relation is not None)
        found = _select(plan, meta.queryset(using).order_by(*ordering(paths, vendor)), extra)
        if len(cache) < _CACHED_SHAPES:
            cache[key] = found
    return found


def list_page(
    meta: ModelMeta, using: str, query: QuerySpec, profile: str, allowed: frozenset[str]
) -> PageResult[Any] | CursorResult[Any]:
    """One page of ``query`` in offset or cursor mode (core spec §11)."""
    plan = profile_plan(meta, profile)
    where = build_q(meta, query.filters, using, allowed)
    paths = sort_paths(meta, query.sort, allowed)
    if not any(path.relation is None and path.root == meta.pk for _, path in paths):
        paths.append((SortSpec(meta.pk, "ASC"), resolve_path(meta, meta.pk)))
    limit = _clamp(query.limit)
    if PaginationMode(query.pagination) is PaginationMode.CURSOR:
        connection = connection_for(using)
        selected = _ordered(meta, using, plan, paths, connection.vendor)
        if query.cursor:
            order = tuple(spec for spec, _ in paths)
            types = [path.python_type for _, path in paths]
            after = decode_cursor(query.cursor, order, types)
            where &= keyset_q(paths, after, connection)
        rows = _fetch(selected.filter(where) if where else selected, 0, limit + 1)
        return _cursor_result(meta, using, plan, paths, rows, limit)
    page = max(1, int(query.page))
    offset = (page - 1) * limit
    selected = _ordered(meta, using, plan, paths, "")
    if not query.count:
        rows = _fetch(selected.filter(where) if where else selected, offset, offset + limit + 1)
        more = len(rows) > limit
        items = load_rows(meta, plan, rows[:limit], using)
        return PageResult(
            items=tuple(items), total_count=None, page=page, limit=limit, has_next=more
        )
    rows = _fetch(selected.filter(where) if where else selected, offset, offset + limit)
    if (rows and len(rows) < limit) or (not rows and offset == 0):
        total = offset + len(rows)
    elif where:
        with database_errors():
            total = meta.queryset(using).filter(where).count()
    else:
        total = count(meta, using)
    items = load_rows(meta, plan, rows, using)
    return PageResult(
        items=tuple(items),
        total_count=total,
        page=page,
        limit=limit,
        has_next=offset + len(items) < total,
    )


def _fetch(qs: QuerySet[Any], start: int, stop: int) -> list[Any]:
    with database_errors():
        return list(qs[start:stop])


def _cursor_result(
    meta: ModelMeta,
    using: str,
    plan: ProfilePlan,
    paths: list[tuple[SortSpec, Path]],
    rows: list[Any],
    limit: int,
) -> CursorResult[Any]:
    has_next = len(rows) > limit
    rows = rows[:limit]
    items = load_rows(meta, plan, rows, using)
    next_cursor = None
    if has_next and rows:
        order = tuple(spec for spec, _ in paths)
        next_cursor = encode_cursor(order, _sort_values(meta, plan, paths, rows[-1]))
    return CursorResult(items=tuple(items), next_cursor=next_cursor, has_next=has_next)


def _sort_values(
    meta: ModelMeta, plan: ProfilePlan, paths: list[tuple[SortSpec, Path]], row: Any
) -> list[Any]:
    values = []
    extra_index = len(plan.values)
    for _, path in paths:
        if path.relation is None:
            values.append(row[meta.columns.index(path.root)])
        else:
            values.append(row[extra_index])
            extra_index += 1
    return values
