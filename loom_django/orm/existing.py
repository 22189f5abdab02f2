"""Derive a loom model from an existing Django model, so loom can serve it as it is."""

from __future__ import annotations

import datetime as dt
import decimal
import threading
import uuid
from typing import Any

from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from loom_django.core.model import (
    BaseModel,
    BigInteger,
    ColumnField,
    LoomStructMeta,
    Numeric,
    OnDelete,
    ServerDefault,
    ServerOnUpdate,
)

__all__ = ["derive_loom_model"]

_lock = threading.Lock()

_TYPES: tuple[tuple[type[models.Field[Any, Any]], Any], ...] = (
    (models.BooleanField, bool),
    (models.DecimalField, decimal.Decimal),
    (models.FloatField, float),
    (models.IntegerField, int),
    (models.DateTimeField, dt.datetime),
    (models.DateField, dt.date),
    (models.TimeField, dt.time),
    (models.DurationField, dt.timedelta),
    (models.UUIDField, uuid.UUID),
    (models.BinaryField, bytes),
    (models.JSONField, Any),
    (models.CharField, str),
    (models.TextField, str),
    (models.FileField, str),
    (models.GenericIPAddressField, str),
)

_ON_DELETE: dict[Any, OnDelete] = {
    models.CASCADE: OnDelete.CASCADE,
    models.SET_NULL: OnDelete.SET_NULL,
    models.RESTRICT: OnDelete.RESTRICT,
    models.PROTECT: OnDelete.RESTRICT,
    models.DO_NOTHING: OnDelete.NO_ACTION,
}


def _python_type(field: models.Field[Any, Any]) -> Any:
    if field.is_relation and field.target_field is not None:  # type: ignore[attr-defined]
        return _python_type(field.target_field)  # type: ignore[attr-defined]
    for field_cls, python_type in _TYPES:
        if isinstance(field, field_cls):
            return python_type
    return Any


def _options(field: models.Field[Any, Any]) -> dict[str, Any]:
    opts: dict[str, Any] = {"nullable": bool(field.null)}
    if field.primary_key:
        opts["primary_key"] = True
        opts["nullable"] = False
        if isinstance(field, models.AutoField | models.BigAutoField | models.SmallAutoField):
            opts["autoincrement"] = True
    if field.unique and not field.primary_key:
        opts["unique"] = True
    if getattr(field, "db_index", False):
        opts["index"] = True
    if isinstance(field, models.BigIntegerField | models.BigAutoField):
        opts["column_type"] = BigInteger
    elif isinstance(field, models.DecimalField):
        opts["column_type"] = Numeric(field.max_digits, field.decimal_places)
    if isinstance(field, models.CharField) and field.max_length:
        opts["length"] = field.max_length
    if field.is_relation and field.remote_field is not None:
        target = field.target_field  # type: ignore[attr-defined]
        opts["foreign_key"] = f"{target.model._meta.db_table}.{target.column}"
        opts["on_delete"] = _ON_DELETE.get(field.remote_field.on_delete)
    opts.update(_defaults(field))
    return opts


def _defaults(field: models.Field[Any, Any]) -> dict[str, Any]:
    if getattr(field, "auto_now", False):
        return {"server_default": ServerDefault.NOW, "server_onupdate": ServerOnUpdate.NOW}
    if getattr(field, "auto_now_add", False) or isinstance(field.db_default, Now):
        return {"server_default": ServerDefault.NOW}
    if field.primary_key and isinstance(field, models.AutoField | models.BigAutoField):
        return {}
    if field.has_default():
        default = field.default
        if default is uuid.uuid4:
            return {"server_default": ServerDefault.UUID4}
        if default is timezone.now:
            return {"server_default": ServerDefault.NOW}
        if callable(default):
            # Django computes it on save; an absent value must stay absent, not NULL.
            return {"default": default() if default in (dict, list) else None}
        return {"default": default}
    if field.db_default is not models.NOT_PROVIDED or field.null:
        return {"default": None}
    return {}


def derive_loom_model(django_model: type[models.Model]) -> type[Any]:
    """Build (once) the loom model serving ``django_model``: one column per concrete field.

    Column names are the fields' attnames (``author_id`` for a ForeignKey ``author``);
    types, nullability, keys, uniqueness, indexes and defaults follow the Django fields,
    ``auto_now``/``auto_now_add`` become server timestamps.
    """
    with _lock:
        found = django_model.__dict__.get("__loom_model__")
        if found is not None:
            return found  # type: ignore[no-any-return]
        meta = django_model._meta
        annotations: dict[str, Any] = {}
        namespace: dict[str, Any] = {
            "__module__": django_model.__module__,
            "__qualname__": django_model.__qualname__,
            "__doc__": f"Loom model derived from the Django model {meta.label}.",
            "__tablename__": meta.db_table,
            "__app_label__": meta.app_label,
            "__django_model__": django_model,
            "__annotations__": annotations,
        }
        for field in meta.concrete_fields:
            python_type = _python_type(field)
            opts = _options(field)
            annotations[field.attname] = python_type | None if field.null else python_type
            namespace[field.attname] = ColumnField(**opts)
        loom = LoomStructMeta(django_model.__name__, (BaseModel,), namespace, frozen=True)
        django_model.__loom_model__ = loom  # type: ignore[attr-defined]
        return loom
