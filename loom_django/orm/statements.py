"""Fixed-shape SQL of the hot repository paths, built once per model and database alias.

get-by-id, exists, count, INSERT … RETURNING and UPDATE … RETURNING have the same text on
every call (so the database and driver can cache them); values are prepared with each
field's ``get_db_prep_save``/``get_db_prep_value`` and results go through the same
``from_db_value`` converters as the ORM's querysets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections
from django.db.models.functions import Now
from django.db.models.sql import Query

from loom_django.orm.meta import ModelMeta

__all__ = ["Statements", "statements_for"]

_Converter = tuple[int, list[Any], Any]


class Statements:
    """SQL texts and result converters of one model on one database connection alias."""

    def __init__(self, meta: ModelMeta, using: str) -> None:
        connection = connections[using]
        self.meta = meta
        self.using = using
        self.vendor: str = connection.vendor
        self.returning = bool(
            connection.features.can_return_columns_from_insert
            and connection.vendor in ("postgresql", "sqlite")
        )
        self.qn = qn = _quote(connection)
        self.table = qn(meta.django._meta.db_table)
        self.columns_sql = ", ".join(qn(f.column) for f in meta.fields)
        self.pk_column = qn(meta.pk_field.column)
        self.get_sql = f"SELECT {self.columns_sql} FROM {self.table} WHERE {self.pk_column} = %s"
        self.count_sql = f"SELECT COUNT(*) FROM {self.table}"
        compiler = Query(meta.django).get_compiler(using=using)
        self.converters: list[_Converter] = []
        for index, field in enumerate(meta.fields):
            column = field.get_col(meta.django._meta.db_table)
            found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
            if found:
                self.converters.append((index, found, column))
        now_sql, now_params = compiler.compile(Now())
        # SQLite's clock has millisecond resolution: use Python's (the same machine clock).
        self.now_sql: str | None = None if self.vendor == "sqlite" or now_params else now_sql
        self._exists: dict[str, str] = {}
        self._insert: dict[tuple[str, ...], str] = {}
        self._update: dict[tuple[str, ...], str] = {}

    def convert(self, row: Sequence[Any]) -> list[Any]:
        """Apply the fields' ``from_db_value``/backend converters to one result row."""
        values = list(row)
        if self.converters:
            connection = connections[self.using]
            for index, converters, expression in self.converters:
                value = values[index]
                for converter in converters:
                    value = converter(value, expression, connection)
                values[index] = value
        return values

    def exists_sql(self, name: str) -> str:
        """``SELECT 1 … WHERE <column> = %s LIMIT 1`` for loom column ``name``."""
        sql = self._exists.get(name)
        if sql is None:
            column = self.qn(self.meta.field_by_name[name].column)
            sql = self._exists[name] = f"SELECT 1 FROM {self.table} WHERE {column} = %s LIMIT 1"
        return sql

    def insert_sql(self, names: tuple[str, ...]) -> str:
        """``INSERT (names) VALUES (…) RETURNING <every column>``."""
        sql = self._insert.get(names)
        if sql is None:
            if names:
                fields = self.meta.field_by_name
                columns = ", ".join(self.qn(fields[n].column) for n in names)
                values = f"({columns}) VALUES ({', '.join(['%s'] * len(names))})"
            else:
                values = "DEFAULT VALUES"
            sql = self._insert[names] = (
                f"INSERT INTO {self.table} {values} RETURNING {self.columns_sql}"
            )
        return sql

    def update_sql(self, names: tuple[str, ...], touched: tuple[str, ...]) -> str:
        """``UPDATE … SET names = %s, touched = <now> WHERE pk = %s [RETURNING …]``.

        ``touched`` (on-update columns) take the database clock, or a ``%s`` parameter
        placed after the written values when the clock comes from Python (SQLite).
        """
        key = (*names, "|", *touched)
        sql = self._update.get(key)
        if sql is None:
            fields = self.meta.field_by_name
            now = self.now_sql or "%s"
            assignments = [f"{self.qn(fields[n].column)} = %s" for n in names]
            assignments += [f"{self.qn(fields[n].column)} = {now}" for n in touched]
            sql = f"UPDATE {self.table} SET {', '.join(assignments)} WHERE {self.pk_column} = %s"
            if self.returning:
                sql += f" RETURNING {self.columns_sql}"
            self._update[key] = sql
        return sql


def _quote(connection: Any) -> Callable[[str | None], str]:
    quote = connection.ops.quote_name

    def qn(name: str | None) -> str:
        return str(quote(name or ""))

    return qn


def statements_for(meta: ModelMeta, using: str) -> Statements:
    """The cached :class:`Statements` of ``meta`` on database ``using``."""
    found: Statements | None = meta.statements.get(using)
    if found is None:
        found = meta.statements[using] = Statements(meta, using)
    return found
