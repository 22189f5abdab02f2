"""The write set: which columns a create/update input actually writes, by Python name."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

import msgspec

from loom_django.core.command import Command, fields_set_of, get_patch_fields
from loom_django.core.model.field import ServerDefault
from loom_django.core.model.introspection import ColumnFieldInfo, column_map

__all__ = ["write_values"]

_names_cache: weakref.WeakKeyDictionary[type, dict[str, str]] = weakref.WeakKeyDictionary()


def _column_names(model_cls: type) -> dict[str, str]:
    """``{python name or camelCase name: python name}`` for every column."""
    names = _names_cache.get(model_cls)
    if names is None:
        names = {}
        for name, info in column_map(model_cls).items():
            names[name] = name
            names.setdefault(info.encode_name, name)
        _names_cache[model_cls] = names
    return names


def _command_items(command: Command) -> dict[str, Any]:
    sent = fields_set_of(command)
    patch = frozenset(get_patch_fields(type(command))) if sent is not None else frozenset()
    items: dict[str, Any] = {}
    for name in type(command).__struct_fields__:
        value = getattr(command, name)
        if value is msgspec.UNSET:
            continue
        if (sent is not None and name in sent) or (value is not None and name not in patch):
            items[name] = value
    return items


def _struct_items(data: msgspec.Struct) -> dict[str, Any]:
    items: dict[str, Any] = {}
    for name in type(data).__struct_fields__:
        value = getattr(data, name)
        if value is not msgspec.UNSET:
            items[name] = value
    return items


def _writable(info: ColumnFieldInfo, value: Any, for_create: bool) -> bool:
    spec = info.field
    if not for_create:
        return not (spec.primary_key or spec.autoincrement or spec.server_generated)
    if spec.autoincrement and value is None:
        return False
    if spec.server_onupdate is not None or spec.server_default is ServerDefault.NOW:
        return False
    return not (spec.server_default is ServerDefault.UUID4 and value is None)


def write_values(model_cls: type, data: Any, *, for_create: bool = False) -> dict[str, Any]:
    """Turn create/update input into ``{python column name: value}``.

    ``data`` may be a dict (camelCase or snake_case keys), a :class:`Command` (written:
    its ``fields_set`` plus every non-``None`` non-patch field; a command built without
    ``from_payload`` writes its non-``None`` fields), or any msgspec struct (fields equal
    to ``UNSET`` are absent). Fields in the write set are written even when ``None``.
    Keys that are not columns are dropped. For updates the primary key, autoincrement
    and server-generated columns are dropped; for creates (``for_create=True``) an
    autoincrement or UUID4 column left ``None`` and the server timestamps are dropped.

    Raises:
        TypeError: ``data`` is neither a mapping nor a msgspec struct.
    """
    if isinstance(data, Command):
        items = _command_items(data)
    elif isinstance(data, msgspec.Struct):
        items = _struct_items(data)
    elif isinstance(data, Mapping):
        items = dict(data)
    else:
        raise TypeError(f"Cannot write {type(data).__name__}: expected a dict or a msgspec Struct")
    names = _column_names(model_cls)
    columns = column_map(model_cls)
    values: dict[str, Any] = {}
    for key, value in items.items():
        name = names.get(key)
        if name is not None and _writable(columns[name], value, for_create):
            values[name] = value
    return values
