"""``IntoHistory`` on a Django table: read the scope, historify in Polars, replace the scope.

The scope is the whole table, or with ``partition_scope`` the rows whose partition tuple
appears in the frame. Reading, deleting and inserting happen in one
``transaction.atomic(using=alias)``, so a failing run leaves the history unchanged.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from django.db import connections, transaction

from loom_django.etl._django_io import (
    _align,
    _delete,
    _fill_auto_now,
    _insert,
    partition_predicate,
    polars_dtype,
    read_frame,
    sql_where,
)
from loom_django.etl._historify import historify
from loom_django.etl.errors import SchemaError
from loom_django.etl.expr import ParamExpr, resolve
from loom_django.etl.plan import TableRoute
from loom_django.etl.targets import IntoHistory

__all__ = ["write_history"]


def _typed(frame: pl.DataFrame, route: TableRoute, spec: IntoHistory) -> pl.DataFrame:
    """The frame cast to the model's types; the log's event column takes ``valid_from``'s."""
    event = spec.effective_date if spec.mode == "log" else None
    valid_from = route.column(spec.valid_from)
    casts = []
    extra = []
    for name in frame.columns:
        info = valid_from if name == event else route.column(name)
        if info is None:
            extra.append(name)
            continue
        dtype = polars_dtype(info.field)
        if frame.schema[name] != dtype:
            casts.append(pl.col(name).cast(dtype, strict=True))
    if extra:
        raise SchemaError(f"{route.name}: frame columns {extra} are not fields of the table")
    try:
        return frame.with_columns(casts) if casts else frame
    except pl.exceptions.InvalidOperationError as exc:
        raise SchemaError(f"{route.name}: {exc}") from exc


def write_history(
    frame: pl.DataFrame,
    route: TableRoute,
    spec: IntoHistory,
    params: Any,
    *,
    read_batch_size: int,
    write_batch_size: int,
    now: Any,
) -> int:
    """Historify ``frame`` into ``route``; returns the rows of the rewritten scope.

    Raises:
        HistorifyKeyConflictError, HistorifyDateCollisionError,
        HistorifyTemporalConflictError: see :func:`historify`; nothing was written.
        SchemaError: a frame column that is not a field, or a value that cannot be cast.
    """
    effective = spec.effective_date
    if isinstance(effective, ParamExpr):
        effective = resolve(effective, params)
    incoming = _fill_auto_now(_typed(frame, route, spec), route, now)
    scope = None
    if spec.partition_scope:
        scope = partition_predicate(incoming, spec.partition_scope)
        if scope is None:
            return 0
    stored = [c.name for c in route.columns if not c.auto]
    with transaction.atomic(using=route.database):
        existing = read_frame(
            route, columns=stored, predicate=scope, params=params, batch_size=read_batch_size
        )
        result = historify(existing, incoming, spec, effective)
        _delete(route, sql_where(route, scope, params) if scope is not None else None)
        if result.height == 0:
            return 0
        result, infos = _align(result, route)
        connection = connections[route.database]
        with connection.cursor() as cursor:
            _insert(cursor, connection, route, result, infos, write_batch_size)
    return result.height
