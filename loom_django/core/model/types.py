"""Column type descriptors (String, Integer, Numeric, Postgres.JSONB, ...) and type inference."""

from __future__ import annotations

import datetime as _dt
import decimal
import typing
import uuid
from collections.abc import Mapping
from typing import Annotated, Any

__all__ = [
    "JSON",
    "BigInteger",
    "Boolean",
    "ColumnType",
    "Date",
    "DateTime",
    "Float",
    "Integer",
    "JsonStr",
    "JSON_STR",
    "Numeric",
    "Postgres",
    "String",
    "Text",
    "Time",
    "Uuid",
    "infer_column_type",
]

# Named parameters of the parametrised types, in positional order, with their defaults.
_PARAMS: dict[str, tuple[tuple[str, Any], ...]] = {
    "String": (("length", None),),
    "DateTime": (("tz", True),),
    "Numeric": (("precision", 10), ("scale", 2)),
    "ARRAY": (("item_type", None),),
}

_POSTGRES_TYPES = frozenset({"JSONB", "UUID", "TSVECTOR", "ARRAY"})


class ColumnType:
    """An explicit column type: a name plus the arguments it was created with.

    Every predefined type is usable bare (``column_type=BigInteger``) or called with its
    parameters (``String(64)``, ``Numeric(12, scale=4)``); calling returns a new
    descriptor. ``options`` gives the named parameters with their defaults filled in,
    which is what a persistence backend reads.
    """

    __slots__ = ("args", "kwargs", "type_name")

    def __init__(
        self,
        type_name: str,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.type_name = type_name
        self.args = tuple(args)
        self.kwargs: dict[str, Any] = dict(kwargs or {})

    def __call__(self, *args: Any, **kwargs: Any) -> ColumnType:
        """Return this type with parameters (``String(64)``, ``DateTime(tz=False)``)."""
        params = _PARAMS.get(self.type_name, ())
        if len(args) > len(params):
            raise TypeError(f"{self.type_name}() takes at most {len(params)} positional arguments")
        unknown = set(kwargs) - {name for name, _ in params}
        if unknown:
            raise TypeError(f"{self.type_name}() got unexpected arguments: {sorted(unknown)}")
        return ColumnType(self.type_name, args, kwargs)

    @property
    def options(self) -> dict[str, Any]:
        """Named parameters (positional ones mapped to their names) with defaults applied."""
        params = _PARAMS.get(self.type_name, ())
        values: dict[str, Any] = dict(params)
        for (name, _), value in zip(params, self.args, strict=False):
            values[name] = value
        values.update(self.kwargs)
        return values

    @property
    def is_postgres(self) -> bool:
        """True for the PostgreSQL-only types (JSONB, UUID, TSVECTOR, ARRAY)."""
        return self.type_name in _POSTGRES_TYPES

    def _key(self) -> tuple[Any, ...]:
        return (self.type_name, tuple(sorted(self.options.items(), key=lambda kv: kv[0])))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ColumnType):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(repr(self._key()))

    def __repr__(self) -> str:
        if not self.args and not self.kwargs:
            return self.type_name
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.type_name}({', '.join(parts)})"


String = ColumnType("String")
Integer = ColumnType("Integer")
BigInteger = ColumnType("BigInteger")
Float = ColumnType("Float")
Boolean = ColumnType("Boolean")
Text = ColumnType("Text")
JSON = ColumnType("JSON")
DateTime = ColumnType("DateTime")
Numeric = ColumnType("Numeric")
Date = ColumnType("Date")
Time = ColumnType("Time")
Uuid = ColumnType("Uuid")

JSON_STR = ColumnType("JsonStr")
"""Marker inside ``JsonStr``: the ``str`` holds serialised JSON."""

JsonStr = Annotated[str, JSON_STR]


class Postgres:
    """PostgreSQL-only column types; using them on another database is a startup error."""

    JSONB = ColumnType("JSONB")
    UUID = ColumnType("UUID")
    TSVECTOR = ColumnType("TSVECTOR")
    ARRAY = ColumnType("ARRAY")


def infer_column_type(python_type: Any, length: int | None = None) -> ColumnType:
    """Column type for a Python annotation (``Optional`` already unwrapped).

    ``bool``/``int``/``float``/``str``/``datetime``/``Decimal`` map to their scalar types,
    ``date``/``time``/``UUID`` to Date/Time/Uuid, containers and anything else to JSON.
    """
    origin = typing.get_origin(python_type)
    if origin is not None:
        return JSON
    if not isinstance(python_type, type):
        return JSON
    if issubclass(python_type, bool):
        return Boolean
    if issubclass(python_type, int):
        return Integer
    if issubclass(python_type, float):
        return Float
    if issubclass(python_type, str):
        return String(length) if length is not None else String
    if issubclass(python_type, _dt.datetime):
        return DateTime(tz=True)
    if issubclass(python_type, _dt.date):
        return Date
    if issubclass(python_type, _dt.time):
        return Time
    if issubclass(python_type, decimal.Decimal):
        return Numeric(10, 2)
    if issubclass(python_type, uuid.UUID):
        return Uuid
    return JSON
