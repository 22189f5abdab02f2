"""Django tables as lazy Polars sources (an IO plugin), read batch by batch.

The declared ``.where()`` and ``.columns()`` are in the SQL; the columns a step actually
uses (Polars' projection pushdown) narrow the ``SELECT`` further; filters written in
``execute()`` reach the source as a Polars predicate and are applied to each batch, and
``head(n)`` without such a filter becomes ``LIMIT``. Polars runs the source on its own
threads, so the step thread's connection wrapper is captured when the frame is built,
shared for the duration of each read, and used under a per-connection lock: the read sees
the step's transaction (and a test's uncommitted rows) and never opens a connection.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import polars as pl
from django.db import connections
from polars.io.plugins import register_io_source

from loom_django.etl._django_io import _schema, fetch_batches, select_sql
from loom_django.etl.expr import Predicate
from loom_django.etl.plan import TableRoute

__all__ = ["scan_table"]

_locks: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def _lock(connection: Any) -> threading.Lock:
    with _locks_guard:
        lock = _locks.get(connection)
        if lock is None:
            lock = _locks[connection] = threading.Lock()
        return lock


def scan_table(
    route: TableRoute,
    *,
    columns: Sequence[str] | None,
    predicate: Predicate | None,
    params: Any,
    batch_size: int,
    server_side: bool = True,
) -> pl.LazyFrame:
    """A lazy frame over ``route``; nothing is read until the frame is collected."""
    connection = connections[route.database]  # the step thread's wrapper, captured now
    lock = _lock(connection)
    declared = [n for n in columns or [c.name for c in route.columns] if route.column(n)]
    schema = _schema([c for c in route.columns if c.name in declared])

    def source(
        with_columns: list[str] | None,
        filter_: pl.Expr | None,
        n_rows: int | None,
        batch_hint: int | None,
    ) -> Iterator[pl.DataFrame]:
        wanted = list(with_columns) if with_columns is not None else declared
        needed = set(wanted) | (set(filter_.meta.root_names()) if filter_ is not None else set())
        names = [n for n in declared if n in needed] or declared[:1]  # pl.len() needs rows
        query, args, infos = select_sql(route, names, predicate, params)
        if n_rows is not None and filter_ is None:
            query += f" LIMIT {int(n_rows)}"
        left = n_rows
        connection.inc_thread_sharing()
        try:
            for batch in fetch_batches(
                connection,
                query,
                args,
                infos,
                batch_size=batch_size,
                server_side=server_side,
                lock=lock,
            ):
                if filter_ is not None:
                    batch = batch.filter(filter_)
                if batch.columns != wanted:
                    batch = batch.select(wanted)
                if left is not None:
                    batch = batch.head(left)
                    left -= batch.height
                yield batch
                if left is not None and left <= 0:
                    return
        finally:
            connection.dec_thread_sharing()

    return register_io_source(
        source, schema=schema, explain_name="django", explain_detail=route.table
    )
