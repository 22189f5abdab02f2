"""Translate one loom column (ColumnFieldInfo) into the Django model field that stores it."""

from __future__ import annotations

import enum
import uuid
from typing import Any

import msgspec
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.functions import Now

from loom_django.core.model import ColumnFieldInfo, ColumnType, OnDelete, ServerDefault
from loom_django.core.model.types import infer_column_type
from loom_django.orm.functions import CopyDefault, RandomUUID4

__all__ = ["ON_DELETE", "column_kwargs", "django_field", "fk_name"]

ON_DELETE: dict[OnDelete | None, Any] = {
    OnDelete.CASCADE: models.CASCADE,
    OnDelete.SET_NULL: models.SET_NULL,
    OnDelete.RESTRICT: models.RESTRICT,
    OnDelete.NO_ACTION: models.DO_NOTHING,
    None: models.RESTRICT,
}
"""Django ``on_delete`` handler of each loom policy (absent means RESTRICT)."""

_SIMPLE: dict[str, type[models.Field[Any, Any]]] = {
    "Integer": models.IntegerField,
    "BigInteger": models.BigIntegerField,
    "Float": models.FloatField,
    "Boolean": models.BooleanField,
    "Text": models.TextField,
    "JSON": models.JSONField,
    "JsonStr": models.TextField,
    "DateTime": models.DateTimeField,
    "Date": models.DateField,
    "Time": models.TimeField,
    "Uuid": models.UUIDField,
}


def fk_name(column: str) -> str:
    """Django name of the ForeignKey stored in loom column ``column`` (``user_id`` → ``user``)."""
    return column[:-3] if column.endswith("_id") and len(column) > 3 else column


def _default(value: Any) -> Any:
    """A migration-serialisable Django ``default`` for a loom column default."""
    if isinstance(value, list | dict | set | tuple) and not isinstance(value, enum.Enum):
        if not value:
            return type(value) if not isinstance(value, tuple) else tuple
        return CopyDefault(value)
    return value


def column_kwargs(info: ColumnFieldInfo, default: Any = msgspec.NODEFAULT) -> dict[str, Any]:
    """Options shared by every field kind: null/blank, unique, index, defaults.

    ``default`` is the struct's default for the field (``ColumnField(default=...)`` or a
    plain ``x: int = 0``); a ``default_factory`` is passed as a zero-argument callable.
    """
    spec = info.field
    kwargs: dict[str, Any] = {}
    if spec.primary_key:
        kwargs["primary_key"] = True
    if info.nullable:
        kwargs["null"] = True
        kwargs["blank"] = True
    if spec.unique and not spec.primary_key:
        kwargs["unique"] = True
    if spec.index and not spec.primary_key:
        kwargs["db_index"] = True
    if spec.server_default is ServerDefault.NOW:
        kwargs["db_default"] = Now()
    elif spec.server_default is ServerDefault.UUID4:
        kwargs["default"] = uuid.uuid4
        kwargs["db_default"] = RandomUUID4()
    elif spec.has_default:
        kwargs["default"] = _default(spec.default)
    elif default is not msgspec.NODEFAULT and not spec.autoincrement:
        kwargs["default"] = default if callable(default) else _default(default)
    return kwargs


def _pg_only(owner: str, info: ColumnFieldInfo, vendor: str) -> None:
    if vendor != "postgresql":
        raise ImproperlyConfigured(
            f"{owner}.{info.name}: column type {info.column_type.type_name} needs PostgreSQL, "
            f"but the default database is {vendor}."
        )


def _item_field(item: Any) -> models.Field[Any, Any]:
    column = item if isinstance(item, ColumnType) else infer_column_type(item)
    name = column.type_name
    if name == "String":
        length = column.options.get("length")
        return models.CharField(max_length=length) if length else models.TextField()
    if name == "Numeric":
        opts = column.options
        return models.DecimalField(max_digits=opts["precision"], decimal_places=opts["scale"])
    field_cls = _SIMPLE.get(name, models.JSONField)
    return field_cls()


def _postgres_field(
    kind: str, column: ColumnType, kwargs: dict[str, Any]
) -> models.Field[Any, Any]:
    if kind == "JSONB":
        return models.JSONField(**kwargs)
    if kind == "UUID":
        return models.UUIDField(**kwargs)
    if kind == "TSVECTOR":
        from django.contrib.postgres.search import SearchVectorField

        return SearchVectorField(**kwargs)
    from django.contrib.postgres.fields import ArrayField

    return ArrayField(_item_field(column.options.get("item_type") or str), **kwargs)


def django_field(
    owner: str, info: ColumnFieldInfo, vendor: str, default: Any = msgspec.NODEFAULT
) -> models.Field[Any, Any]:
    """The Django field storing the (non foreign key) column ``info`` of model ``owner``.

    Raises:
        ImproperlyConfigured: a PostgreSQL-only type is used on another database.
    """
    spec = info.field
    column = info.column_type
    kind = column.type_name
    kwargs = column_kwargs(info, default)
    if spec.autoincrement and spec.primary_key and kind in ("Integer", "BigInteger"):
        kwargs.pop("default", None)
        return models.BigAutoField(**kwargs) if kind == "BigInteger" else models.AutoField(**kwargs)
    if column.is_postgres:
        _pg_only(owner, info, vendor)
        return _postgres_field(kind, column, kwargs)
    if kind == "String":
        length = column.options.get("length") or spec.length
        if length:
            return models.CharField(max_length=length, **kwargs)
        return models.TextField(**kwargs)
    if kind == "Numeric":
        opts = column.options
        return models.DecimalField(
            max_digits=opts["precision"], decimal_places=opts["scale"], **kwargs
        )
    return _SIMPLE.get(kind, models.JSONField)(**kwargs)
