"""Delta tables on the Polars backend (``loom-django[delta]``): scans, schema alignment and
every ``IntoTable`` write mode through delta-rs. Imported only when a plan has a Delta route.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import polars as pl

from loom_django.etl._polars_expr import to_polars
from loom_django.etl.errors import DuplicateKeyError, PredicateViolationError, SchemaError
from loom_django.etl.expr import ColRef, Dialect, Predicate, fold
from loom_django.etl.schema import SchemaMode
from loom_django.etl.sources import FromTable
from loom_django.etl.targets import IntoTable, WriteMode

__all__ = ["can_create", "delta_exists", "read_delta", "sql_predicate", "write_delta"]

_log = logging.getLogger("loom_django.etl.delta")


def delta_exists(location: str) -> bool:
    """Whether a Delta table lives at ``location``."""
    from deltalake import DeltaTable

    return bool(DeltaTable.is_deltatable(location))


def can_create(spec: Any, policy: str) -> bool:
    """Whether ``storage.missing_table_policy`` lets a write create a missing table."""
    if policy == "create":
        return True
    return policy == "schema_mode" and getattr(spec, "schema", None) is SchemaMode.OVERWRITE


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return f"'{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"'{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def sql_predicate(pred: Predicate, params: Any) -> str:
    """``pred`` as a delta-rs (DataFusion) SQL predicate with literal values."""

    def operand(value: Any) -> str:
        return f'"{value.name}"' if isinstance(value, ColRef) else _literal(value)

    return str(
        fold(
            pred,
            Dialect(
                operand=operand,
                binary=lambda op, a, b: "(NULL)" if b == "NULL" else f"({a} {op} {b})",
                isin=lambda ref, values: (
                    f"({ref} IN ({', '.join(values)}))" if values else "(1 = 0)"
                ),
                is_null=lambda ref, negated: f"({ref} IS {'NOT ' if negated else ''}NULL)",
                and_=lambda a, b: f"({a} AND {b})",
                or_=lambda a, b: f"({a} OR {b})",
                not_=lambda a: f"(NOT {a})",
            ),
            params,
        )
    )


def read_delta(location: str, spec: FromTable, params: Any) -> pl.LazyFrame:
    """A lazy scan of the Delta table; predicates and projection go into the scan."""
    frame = pl.scan_delta(location)
    if spec.predicate is not None:
        frame = frame.filter(to_polars(spec.predicate, params))
    return frame.select(spec.projected) if spec.projected else frame


def _align(
    frame: pl.DataFrame, location: str, mode: SchemaMode
) -> tuple[pl.DataFrame, Literal["merge", "overwrite"] | None]:
    """STRICT: cast to the table's types, missing columns as typed nulls, extra columns
    dropped (logged), table order. EVOLVE: the same, extra columns kept (merged into the
    schema). OVERWRITE: the frame as is (the table's schema is replaced)."""
    if mode is SchemaMode.OVERWRITE:
        return frame, "overwrite"
    table = pl.scan_delta(location).collect_schema()
    extra = [c for c in frame.columns if c not in table]
    if extra and mode is SchemaMode.STRICT:
        _log.warning("%s: STRICT drops frame columns %s not in the table", location, extra)
    columns = [
        (pl.col(name) if name in frame.columns else pl.lit(None))
        .cast(dtype, strict=True)
        .alias(name)
        for name, dtype in table.items()
    ]
    if mode is SchemaMode.EVOLVE:
        columns.extend(pl.col(name) for name in extra)
    try:
        aligned = frame.select(columns)
    except pl.exceptions.PolarsError as exc:
        raise SchemaError(f"{location}: {exc}") from exc
    return aligned, "merge" if mode is SchemaMode.EVOLVE and extra else None


def _partition_predicate(frame: pl.DataFrame, cols: tuple[str, ...]) -> str:
    parts = []
    for values in frame.select(cols).unique().rows():
        if any(v is None for v in values):
            raise ValueError(f"replace_partitions: null value in partition columns {cols}")
        parts.append(
            "("
            + " AND ".join(f'"{c}" = {_literal(v)}' for c, v in zip(cols, values, strict=True))
            + ")"
        )
    return " OR ".join(parts)


def _update_set(spec: IntoTable, columns: list[str]) -> list[str]:
    fixed = set(spec.keys) | set(spec.partition_cols)
    names = [c for c in columns if c not in fixed]
    if spec.include:
        return [n for n in names if n in spec.include]
    return [n for n in names if n not in spec.exclude]


def write_delta(
    frame: pl.DataFrame, location: str, spec: IntoTable, params: Any, policy: str
) -> int:
    """Write ``frame`` to the Delta table at ``location`` with ``spec``'s mode; rows written.

    Raises:
        SchemaNotFoundError: the table is missing and may not be created.
        SchemaError: ``Null``-typed columns, or a value that cannot be cast.
        PredicateViolationError / DuplicateKeyError / ValueError: as for Django tables, and
            a null partition value in ``replace_partitions``.
    """
    from deltalake import DeltaTable, write_deltalake

    from loom_django.etl.errors import SchemaNotFoundError

    nulls = [name for name, dtype in frame.schema.items() if dtype == pl.Null]
    if nulls:
        raise SchemaError(f"{location}: columns {nulls} have no type (Null); cast them first")
    exists = delta_exists(location)
    if not exists and not can_create(spec, policy):
        raise SchemaNotFoundError("IntoTable", location)
    schema_mode = None
    if exists:
        frame, schema_mode = _align(frame, location, spec.schema)
    mode = spec.mode
    if mode is WriteMode.UPSERT:
        dupes = frame.filter(pl.struct(list(spec.keys)).is_duplicated()).select(spec.keys)
        if dupes.height:
            raise DuplicateKeyError(
                f"{location}: duplicate upsert keys {dupes.unique().head(5).rows()}"
            )
    if mode is WriteMode.REPLACE_PARTITIONS and frame.height == 0:
        _log.warning("%s: replace_partitions with an empty frame changes nothing", location)
        return 0
    predicate = None
    if mode is WriteMode.REPLACE_WHERE and spec.predicate is not None:
        outside = frame.filter(~to_polars(spec.predicate, params).fill_null(False))
        if outside.height:
            raise PredicateViolationError(
                f"{outside.height} row(s) fall outside the replace_where predicate; "
                "nothing was deleted"
            )
        predicate = sql_predicate(spec.predicate, params)
    if mode is WriteMode.REPLACE_PARTITIONS:
        predicate = _partition_predicate(frame, spec.partition_cols)
    if mode is WriteMode.UPSERT and exists:
        _merge(DeltaTable(location), frame, spec)
        return frame.height
    partition_by = None if exists else (list(spec.partition_cols) or None)
    data = frame.to_arrow()
    if mode is WriteMode.APPEND:
        write_deltalake(
            location, data, mode="append", schema_mode=schema_mode, partition_by=partition_by
        )
    else:
        write_deltalake(
            location,
            data,
            mode="overwrite",
            schema_mode=schema_mode,
            predicate=predicate if exists else None,
            partition_by=partition_by,
        )
    return frame.height


def _merge(table: Any, frame: pl.DataFrame, spec: IntoTable) -> None:
    conditions = [f"t.{k} = s.{k}" for k in spec.keys]
    if spec.partition_cols:
        values = frame.select(spec.partition_cols).unique().rows()
        conditions.insert(
            0,
            "("
            + " OR ".join(
                "("
                + " AND ".join(
                    f"t.{c} = {_literal(v)}" for c, v in zip(spec.partition_cols, row, strict=True)
                )
                + ")"
                for row in values
            )
            + ")",
        )
    else:
        _log.warning("upsert into a Delta table without partition_cols scans the whole table")
    merger = table.merge(
        source=frame.to_arrow(),
        predicate=" AND ".join(conditions),
        source_alias="s",
        target_alias="t",
    )
    names = _update_set(spec, frame.columns)
    if names:
        merger = merger.when_matched_update(updates={n: f"s.{n}" for n in names})
    merger.when_not_matched_insert_all().execute()
