"""Django tables as Polars frames: batched SQL reads, executemany/COPY writes per write mode.

Rows never become model instances. Reads run on the step thread (one connection, the
step's transaction visible); writes run in one ``transaction.atomic(using=alias)`` per step.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import polars as pl
from django.conf import settings
from django.db import connections, models, transaction
from django.db.models.expressions import RawSQL

from loom_django.etl.errors import DuplicateKeyError, PredicateViolationError, SchemaError
from loom_django.etl.expr import Dialect, Predicate, fold
from loom_django.etl.plan import ColumnInfo, TableRoute
from loom_django.etl.targets import IntoTable, WriteMode

__all__ = [
    "fetch_batches",
    "partition_predicate",
    "polars_dtype",
    "read_frame",
    "select_sql",
    "sql_where",
    "write_table",
]

_log = logging.getLogger("loom_django.etl.django")

_INT16 = (models.SmallAutoField, models.SmallIntegerField, models.PositiveSmallIntegerField)
_INT64 = (models.BigAutoField, models.BigIntegerField, models.PositiveBigIntegerField)
_INT32 = (models.AutoField, models.IntegerField, models.PositiveIntegerField)


def polars_dtype(f: Any) -> pl.DataType:
    """The Polars type of a Django field (§9.2 mapping)."""
    if isinstance(f, models.ForeignKey):
        return polars_dtype(f.target_field)
    if isinstance(f, _INT16):
        return pl.Int16()
    if isinstance(f, _INT64):
        return pl.Int64()
    if isinstance(f, _INT32):
        return pl.Int32()
    if isinstance(f, models.FloatField):
        return pl.Float64()
    if isinstance(f, models.DecimalField):
        return pl.Decimal(f.max_digits, f.decimal_places)
    if isinstance(f, models.BooleanField):
        return pl.Boolean()
    if isinstance(f, models.DateTimeField):
        return pl.Datetime("us", "UTC" if settings.USE_TZ else None)
    if isinstance(f, models.DateField):
        return pl.Date()
    if isinstance(f, models.TimeField):
        return pl.Time()
    if isinstance(f, models.DurationField):
        return pl.Duration("us")
    if isinstance(f, models.BinaryField):
        return pl.Binary()
    if f.get_internal_type() == "ArrayField":  # django.contrib.postgres, not imported here
        return pl.List(polars_dtype(f.base_field))
    return pl.String()


def _schema(columns: Sequence[ColumnInfo]) -> dict[str, pl.DataType]:
    return {c.name: polars_dtype(c.field) for c in columns}


def _sql_dialect(route: TableRoute, quote: Any, args: list[Any], connection: Any) -> Dialect:
    def operand(value: Any) -> Any:
        from loom_django.etl.expr import ColRef

        if isinstance(value, ColRef):
            info = route.column(value.name)
            return ("col", info)
        return ("val", value)

    def render(item: Any, other: Any = None) -> str:
        kind, value = item
        if kind == "col":
            return str(quote(value.column))
        field = other[1].field if other is not None and other[0] == "col" else None
        if value is None:
            return "NULL"
        args.append(field.get_db_prep_value(value, connection) if field is not None else value)
        return "%s"

    def binary(op: str, left: Any, right: Any) -> str:
        if right[0] == "val" and right[1] is None:
            return "(NULL)"
        return f"({render(left, right)} {op} {render(right, left)})"

    def isin(ref: Any, values: tuple[Any, ...]) -> str:
        if not values:
            return "(1 = 0)"
        marks = ", ".join(render(("val", v), ref) for v in values)
        return f"({render(ref)} IN ({marks}))"

    def is_null(ref: Any, negated: bool) -> str:
        return f"({render(ref)} IS {'NOT ' if negated else ''}NULL)"

    return Dialect(
        operand=operand,
        binary=binary,
        isin=isin,
        is_null=is_null,
        and_=lambda a, b: f"({a} AND {b})",
        or_=lambda a, b: f"({a} OR {b})",
        not_=lambda a: f"(NOT {a})",
    )


def sql_where(route: TableRoute, pred: Predicate, values: Any) -> tuple[str, list[Any]]:
    """``pred`` as parameterised SQL for ``route``'s connection (three-valued logic kept)."""
    connection = connections[route.database]
    args: list[Any] = []
    sql = fold(pred, _sql_dialect(route, connection.ops.quote_name, args, connection), values)
    return str(sql), args


def _normalise(frame: pl.DataFrame, columns: Sequence[ColumnInfo], vendor: str) -> pl.DataFrame:
    exprs = []
    for info in columns:
        f = info.field
        if isinstance(f, models.UUIDField):
            c = pl.col(info.name).cast(pl.String)
            exprs.append(
                pl.when(c.str.len_chars() == 32)
                .then(
                    pl.concat_str(
                        [
                            c.str.slice(0, 8),
                            c.str.slice(8, 4),
                            c.str.slice(12, 4),
                            c.str.slice(16, 4),
                            c.str.slice(20, 12),
                        ],
                        separator="-",
                    )
                )
                .otherwise(c)
                .alias(info.name)
            )
    return frame.with_columns(exprs) if exprs else frame


def _textual(rows: list[tuple[Any, ...]], columns: Sequence[ColumnInfo]) -> list[tuple[Any, ...]]:
    """UUID objects and decoded JSON (PostgreSQL drivers) become text, as the mapping says."""
    import json
    import uuid

    special = [
        i for i, c in enumerate(columns) if isinstance(c.field, models.UUIDField | models.JSONField)
    ]
    if not special:
        return rows

    def text(value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, uuid.UUID):
            return str(value)
        return json.dumps(value)

    out = []
    for row in rows:
        values = list(row)
        for i in special:
            values[i] = text(values[i])
        out.append(tuple(values))
    return out


def _to_frame(rows: list[tuple[Any, ...]], columns: Sequence[ColumnInfo]) -> pl.DataFrame:
    names = [c.name for c in columns]
    rows = _textual(rows, columns)
    raw = pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None) if rows else None
    schema = _schema(columns)
    if raw is None:
        return pl.DataFrame(schema=schema)
    casts = []
    for name, dtype in schema.items():
        current = raw.schema[name]
        if current == dtype:
            continue
        expr = pl.col(name)
        if isinstance(dtype, pl.Datetime) and current == pl.String:
            expr = expr.str.to_datetime(time_unit="us")
        if (
            isinstance(dtype, pl.Datetime)
            and dtype.time_zone is not None
            and (
                current == pl.String
                or (isinstance(current, pl.Datetime) and current.time_zone is None)
            )
        ):
            expr = expr.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        elif isinstance(dtype, pl.Date) and current == pl.String:
            expr = expr.str.to_date()
        elif isinstance(dtype, pl.Boolean) and current != pl.Boolean:
            expr = expr.cast(pl.Int64).cast(pl.Boolean)
        casts.append(expr.cast(dtype).alias(name))
    return raw.with_columns(casts) if casts else raw


def select_sql(
    route: TableRoute, columns: Sequence[str] | None, predicate: Predicate | None, params: Any
) -> tuple[str, list[Any], list[ColumnInfo]]:
    """The ``SELECT`` of ``columns`` (all when ``None``) filtered by ``predicate``."""
    connection = connections[route.database]
    wanted = [route.column(n) for n in columns] if columns else list(route.columns)
    infos = [c for c in wanted if c is not None]
    quote = connection.ops.quote_name
    query = f"SELECT {', '.join(quote(c.column) for c in infos)} FROM {quote(route.table)}"
    args: list[Any] = []
    if predicate is not None:
        where, args = sql_where(route, predicate, params)
        query += f" WHERE {where}"
    return query, args, infos


def fetch_batches(
    connection: Any,
    query: str,
    args: Sequence[Any],
    infos: Sequence[ColumnInfo],
    *,
    batch_size: int,
    server_side: bool = True,
    lock: Any = None,
) -> Iterator[pl.DataFrame]:
    """Run ``query`` on ``connection`` and yield frames of ``batch_size`` rows typed from the
    model (a server-side cursor on PostgreSQL unless ``server_side`` is off). ``lock``, when
    given, is held around each cursor call, never across a ``yield``."""
    from contextlib import nullcontext

    guard = lock if lock is not None else nullcontext()
    named = server_side and connection.vendor == "postgresql"
    with guard:
        cursor = connection.chunked_cursor() if named else connection.cursor()
    try:
        with guard:
            cursor.execute(query, args)
        while True:
            with guard:
                rows = cursor.fetchmany(batch_size)
            if not rows:
                return
            yield _normalise(_to_frame(rows, infos), infos, connection.vendor)
    finally:
        with guard:
            cursor.close()


def read_frame(
    route: TableRoute,
    *,
    columns: Sequence[str] | None,
    predicate: Predicate | None,
    params: Any,
    batch_size: int,
) -> pl.DataFrame:
    """Rows of ``route`` read now, on this thread's connection (inside its transaction)."""
    query, args, infos = select_sql(route, columns, predicate, params)
    connection = connections[route.database]
    batches = list(
        fetch_batches(connection, query, args, infos, batch_size=batch_size, server_side=False)
    )
    return pl.concat(batches) if batches else pl.DataFrame(schema=_schema(infos))


# -- writes ------------------------------------------------------------------------------


def _align(frame: pl.DataFrame, route: TableRoute) -> tuple[pl.DataFrame, list[ColumnInfo]]:
    known = {c.name: c for c in route.columns}
    extra = [name for name in frame.columns if name not in known]
    if extra:
        raise SchemaError(f"{route.name}: frame columns {extra} are not fields of the table")
    missing = [
        c.name
        for c in route.columns
        if c.name not in frame.columns and not c.nullable and not c.has_default and not c.auto
    ]
    if missing:
        raise SchemaError(f"{route.name}: required columns {missing} are missing from the frame")
    present = [known[name] for name in frame.columns]
    casts = []
    for info in present:
        dtype = polars_dtype(info.field)
        if isinstance(info.field, models.UUIDField | models.JSONField):
            continue
        if frame.schema[info.name] != dtype:
            casts.append(pl.col(info.name).cast(dtype, strict=True))
    try:
        frame = frame.with_columns(casts) if casts else frame
    except pl.exceptions.InvalidOperationError as exc:
        raise SchemaError(f"{route.name}: {exc}") from exc
    return frame, present


def _plain(value: Any) -> Any:
    import uuid

    return str(value) if isinstance(value, uuid.UUID) else value


def _fill_auto_now(frame: pl.DataFrame, route: TableRoute, now: Any) -> pl.DataFrame:
    adds = []
    for info in route.columns:
        f = info.field
        if info.name in frame.columns or info.auto:
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            adds.append(pl.lit(now).cast(polars_dtype(f)).alias(info.name))
        elif f.has_default():
            if callable(f.default):
                values = [_plain(f.get_default()) for _ in range(frame.height)]
                adds.append(pl.lit(pl.Series(info.name, values)))
            else:
                adds.append(pl.lit(_plain(f.get_default())).alias(info.name))
    return frame.with_columns(adds) if adds else frame


def _adapt(
    frame: pl.DataFrame, infos: list[ColumnInfo], connection: Any
) -> tuple[pl.DataFrame, list[int]]:
    """The frame with values adapted column-wise for the backend (once per write), and the
    positions of columns that still need Django's per-value adaptation."""
    exprs = []
    per_value: list[int] = []
    changed = False
    for i, info in enumerate(infos):
        f = info.field
        c = pl.col(info.name)
        dtype = frame.schema[info.name]
        if isinstance(f, models.DateTimeField) and isinstance(dtype, pl.Datetime):
            if dtype.time_zone is not None:
                c = c.dt.convert_time_zone("UTC")
                if connection.vendor != "postgresql":
                    c = c.dt.replace_time_zone(None)
            if connection.vendor == "sqlite":
                c = c.dt.to_string("%Y-%m-%d %H:%M:%S%.6f")
            changed = True
        elif isinstance(f, models.DateField) and dtype == pl.Date and connection.vendor == "sqlite":
            c = c.dt.to_string("%Y-%m-%d")  # what the sqlite3 date adapter sends, per column
            changed = True
        elif isinstance(f, models.UUIDField) and connection.vendor != "postgresql":
            c = c.cast(pl.String).str.replace_all("-", "")
            changed = True
        elif isinstance(f, models.JSONField) and dtype == pl.String:
            pass  # already JSON text (the §9.2 mapping); encoding it again would nest it
        elif isinstance(
            f, models.JSONField | models.DecimalField | models.DurationField | models.TimeField
        ):
            per_value.append(i)
        exprs.append(c.alias(info.name))
    names = [info.name for info in infos]
    if changed:
        return frame.select(exprs), per_value
    return (frame if frame.columns == names else frame.select(names)), per_value


def _db_rows(
    frame: pl.DataFrame, infos: list[ColumnInfo], per_value: list[int], connection: Any
) -> list[tuple[Any, ...]]:
    rows = frame.rows()
    if not per_value:
        return rows
    out = []
    for row in rows:
        values = list(row)
        for i in per_value:
            if values[i] is not None:
                values[i] = infos[i].field.get_db_prep_save(values[i], connection)
        out.append(tuple(values))
    return out


_CSV_UNSAFE = (pl.Binary, pl.Duration, pl.List, pl.Array, pl.Struct, pl.Object)


def _copyable(frame: pl.DataFrame, connection: Any, copy: str, suffix: str) -> bool:
    """COPY applies to plain inserts on PostgreSQL through psycopg 3, for frames whose every
    column has a CSV text form PostgreSQL parses back to the same value."""
    if copy == "off" or suffix or connection.vendor != "postgresql":
        return False
    if not hasattr(connection.connection, "pgconn"):  # psycopg 2 has no COPY ... FROM STDIN API
        return False
    return not any(isinstance(dtype, _CSV_UNSAFE) for dtype in frame.schema.values())


def _copy(
    cursor: Any, connection: Any, route: TableRoute, frame: pl.DataFrame, batch_size: int
) -> None:
    """``COPY table (cols) FROM STDIN (FORMAT csv)``, each batch serialised by Polars (an
    unquoted empty field is NULL, a quoted one the empty string)."""
    quote = connection.ops.quote_name
    cols = ", ".join(quote(route.column(name).column) for name in frame.columns)  # type: ignore[union-attr]
    sql = f"COPY {quote(route.table)} ({cols}) FROM STDIN (FORMAT csv)"
    with connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
        for start in range(0, frame.height, batch_size):
            copy.write(frame.slice(start, batch_size).write_csv(include_header=False))


def _insert(
    cursor: Any,
    connection: Any,
    route: TableRoute,
    frame: pl.DataFrame,
    infos: list[ColumnInfo],
    batch_size: int,
    suffix: str = "",
    copy: str = "auto",
) -> None:
    quote = connection.ops.quote_name
    cols = ", ".join(quote(c.column) for c in infos)
    marks = ", ".join(["%s"] * len(infos))
    sql = f"INSERT INTO {quote(route.table)} ({cols}) VALUES ({marks}){suffix}"
    if _copyable(frame, connection, copy, suffix):
        _copy(cursor, connection, route, frame.select([c.name for c in infos]), batch_size)
        return
    adapted, per_value = _adapt(frame, infos, connection)
    for start in range(0, adapted.height, batch_size):
        batch = adapted.slice(start, batch_size)
        cursor.executemany(sql, _db_rows(batch, infos, per_value, connection))


def _delete(route: TableRoute, where: tuple[str, list[Any]] | None) -> None:
    manager = route.model._base_manager.using(route.database)
    qs = manager.all()
    if where is not None:
        qs = qs.filter(RawSQL(where[0], where[1], output_field=models.BooleanField()))
    qs.delete()


def partition_predicate(frame: pl.DataFrame, cols: Sequence[str]) -> Predicate | None:
    """``(p1 = v1 AND p2 = v2) OR …`` over the distinct ``cols`` tuples of ``frame`` (a null
    value as ``IS NULL``); ``None`` for an empty frame."""
    from loom_django.etl.expr import AndPred, ColRef, EqPred, IsNullPred, OrPred

    pred: Any = None
    for values in frame.select(cols).unique().rows():
        part: Any = None
        for name, value in zip(cols, values, strict=True):
            node = IsNullPred(ColRef(name), False) if value is None else EqPred(ColRef(name), value)
            part = node if part is None else AndPred(part, node)
        pred = part if pred is None else OrPred(pred, part)
    return pred  # type: ignore[no-any-return]


def _partition_where(
    route: TableRoute, frame: pl.DataFrame, cols: tuple[str, ...]
) -> tuple[str, list[Any]]:
    pred = partition_predicate(frame, cols)
    assert pred is not None
    return sql_where(route, pred, None)


def _upsert_suffix(
    connection: Any, spec: IntoTable, infos: list[ColumnInfo], route: TableRoute
) -> str:
    quote = connection.ops.quote_name
    keys = [route.column(k) for k in spec.keys]
    fixed = set(spec.keys) | set(spec.partition_cols)
    names = [c.name for c in infos if c.name not in fixed]
    if spec.include:
        names = [n for n in names if n in spec.include]
    elif spec.exclude:
        names = [n for n in names if n not in spec.exclude]
    for info in route.columns:
        if getattr(info.field, "auto_now_add", False) and info.name in names:
            names.remove(info.name)
    target = ", ".join(quote(k.column) for k in keys if k is not None)
    if not names:
        return f" ON CONFLICT ({target}) DO NOTHING"
    sets = ", ".join(
        f"{quote(route.column(n).column)} = EXCLUDED.{quote(route.column(n).column)}"  # type: ignore[union-attr]
        for n in names
    )
    return f" ON CONFLICT ({target}) DO UPDATE SET {sets}"


def write_table(
    frame: pl.DataFrame,
    route: TableRoute,
    spec: IntoTable,
    params: Any,
    *,
    batch_size: int,
    now: Any,
    copy: str = "auto",
) -> int:
    """Write ``frame`` to ``route`` with ``spec``'s mode in one transaction; rows written.

    Inserts go out with ``executemany``, or ``COPY`` on PostgreSQL (``copy="auto"``).

    Raises:
        SchemaError: an extra column, or a missing required one.
        PredicateViolationError: a ``replace_where`` row outside the predicate.
        DuplicateKeyError: an upsert frame repeats a key.
    """
    frame = _fill_auto_now(frame, route, now)
    frame, infos = _align(frame, route)
    connection = connections[route.database]
    where: tuple[str, list[Any]] | None = None
    if spec.mode is WriteMode.REPLACE_WHERE and spec.predicate is not None:
        _check_predicate(frame, spec.predicate, params)
        where = sql_where(route, spec.predicate, params)
    if spec.mode is WriteMode.UPSERT:
        dupes = frame.filter(pl.struct(list(spec.keys)).is_duplicated()).select(spec.keys).unique()
        if dupes.height:
            raise DuplicateKeyError(f"{route.name}: duplicate upsert keys {dupes.head(5).rows()}")
    if spec.mode is WriteMode.REPLACE_PARTITIONS and frame.height == 0:
        _log.warning("%s: replace_partitions with an empty frame changes nothing", route.name)
        return 0
    with transaction.atomic(using=route.database), connection.cursor() as cursor:
        if spec.mode is WriteMode.REPLACE:
            _delete(route, None)
        elif spec.mode is WriteMode.REPLACE_WHERE:
            _delete(route, where)
        elif spec.mode is WriteMode.REPLACE_PARTITIONS:
            _delete(route, _partition_where(route, frame, spec.partition_cols))
        if frame.height == 0:
            return 0
        suffix = (
            _upsert_suffix(connection, spec, infos, route) if spec.mode is WriteMode.UPSERT else ""
        )
        _insert(cursor, connection, route, frame, infos, batch_size, suffix, copy)
    return frame.height


def _check_predicate(frame: pl.DataFrame, predicate: Predicate, params: Any) -> None:
    from loom_django.etl._polars_expr import to_polars

    outside = frame.filter(~to_polars(predicate, params).fill_null(False))
    if outside.height:
        raise PredicateViolationError(
            f"{outside.height} row(s) fall outside the replace_where predicate; nothing was deleted"
        )


def iter_rows(frame: pl.DataFrame, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    """``frame`` as batches of row dicts."""
    for start in range(0, frame.height, batch_size):
        yield frame.slice(start, batch_size).rows(named=True)
