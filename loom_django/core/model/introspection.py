"""Introspection of loom models: columns, primary key, relations, projections, profiles."""

from __future__ import annotations

import types
import typing
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from msgspec import UnsetType

from loom_django.core.model.field import ColumnSpec, Field
from loom_django.core.model.relation import Projection, Relation
from loom_django.core.model.types import ColumnType, infer_column_type

__all__ = [
    "ColumnFieldInfo",
    "column_map",
    "get_column_fields",
    "get_id_attribute",
    "get_projections",
    "get_relations",
    "get_table_name",
    "model_profiles",
    "relation_target",
    "unwrap_optional",
]


@dataclass(frozen=True)
class ColumnFieldInfo:
    """Everything a backend needs about one column.

    ``python_type`` is the annotation with ``Annotated`` and ``Optional`` removed;
    ``nullable`` is resolved (explicit option, else "annotation admits None and not a
    primary key"); ``encode_name`` is the JSON (camelCase) name; ``required`` is true
    when the struct has no default for the field (it must be given on construction).
    """

    name: str
    python_type: Any
    column_type: ColumnType
    field: ColumnSpec
    nullable: bool = False
    annotation: Any = None
    encode_name: str = ""
    required: bool = False

    @property
    def primary_key(self) -> bool:
        """True for the primary-key column."""
        return self.field.primary_key

    @property
    def server_generated(self) -> bool:
        """True when the value comes from the database (server default / on update)."""
        return self.field.server_generated


_columns_cache: weakref.WeakKeyDictionary[type, dict[str, ColumnFieldInfo]] = (
    weakref.WeakKeyDictionary()
)
_profiles_cache: weakref.WeakKeyDictionary[type, frozenset[str]] = weakref.WeakKeyDictionary()


def unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """Return ``(annotation without None/UNSET members, whether it admitted None)``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(annotation)
        rest = tuple(a for a in args if a is not type(None) and a is not UnsetType)
        admits_none = len(rest) < len(args) and type(None) in args
        if len(rest) == 1:
            return rest[0], admits_none
        return typing.Union[rest], admits_none  # noqa: UP007 - built from a tuple
    return annotation, annotation is type(None) or annotation is None


def _strip_annotated(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    if typing.get_origin(annotation) is Annotated:
        return annotation.__origin__, tuple(annotation.__metadata__)
    return annotation, ()


def _build_columns(cls: type) -> dict[str, ColumnFieldInfo]:
    declared: Mapping[str, ColumnSpec] = getattr(cls, "__loom_columns__", {})
    relations = getattr(cls, "__loom_relations__", {})
    projections = getattr(cls, "__loom_projections__", {})
    result: dict[str, ColumnFieldInfo] = {}
    for info in msgspec.structs.fields(cls):
        if info.name in relations or info.name in projections:
            continue
        bare, metadata = _strip_annotated(info.type)
        python_type, admits_none = unwrap_optional(bare)
        python_type, inner_meta = _strip_annotated(python_type)
        metadata += inner_meta
        spec = declared.get(info.name) or ColumnSpec()
        meta_type = next((m for m in metadata if isinstance(m, ColumnType)), None)
        meta_field = next((m for m in metadata if isinstance(m, Field)), None)
        if info.name not in declared and meta_field is not None:
            options = {k: getattr(meta_field, k) for k in Field.__dataclass_fields__}
            spec = ColumnSpec(column_type=meta_type, **options)
        column_type = spec.explicit_type or meta_type or infer_column_type(python_type, spec.length)
        nullable = spec.nullable
        if nullable is None:
            nullable = admits_none and not spec.primary_key
        result[info.name] = ColumnFieldInfo(
            name=info.name,
            python_type=python_type,
            column_type=column_type,
            field=spec,
            nullable=nullable,
            annotation=info.type,
            encode_name=info.encode_name,
            required=info.required,
        )
    return result


def column_map(cls: type) -> Mapping[str, ColumnFieldInfo]:
    """Cached read-only view of :func:`get_column_fields` for hot paths."""
    cached = _columns_cache.get(cls)
    if cached is None:
        cached = _build_columns(cls)
        _columns_cache[cls] = cached
    return types.MappingProxyType(cached)


def get_column_fields(cls: type) -> dict[str, ColumnFieldInfo]:
    """Every column of ``cls`` (all struct fields except relations and projections), in order.

    Fields without a ``ColumnField`` are columns too; their type is inferred.
    """
    return dict(column_map(cls))


def get_id_attribute(cls: type) -> str:
    """Name of the primary-key attribute.

    Raises:
        ValueError: ``No primary key field found on <Name>``.
    """
    for name, info in column_map(cls).items():
        if info.field.primary_key:
            return name
    raise ValueError(f"No primary key field found on {cls.__name__}")


def get_table_name(cls: type) -> str:
    """The model's ``__tablename__``.

    Raises:
        ValueError: ``<Name> does not declare __tablename__``.
    """
    table = getattr(cls, "__tablename__", None)
    if not isinstance(table, str) or not table:
        raise ValueError(f"{cls.__name__} does not declare __tablename__")
    return table


def get_relations(cls: type) -> dict[str, Relation]:
    """Relation attributes declared on ``cls`` (inherited ones included), by name."""
    return dict(getattr(cls, "__loom_relations__", {}))


def get_projections(cls: type) -> dict[str, Projection]:
    """Projection attributes declared on ``cls`` (inherited ones included), by name."""
    return dict(getattr(cls, "__loom_projections__", {}))


def model_profiles(cls: type) -> frozenset[str]:
    """``{"default"}`` plus every profile named by a relation or projection of ``cls``."""
    cached = _profiles_cache.get(cls)
    if cached is None:
        names = {"default"}
        for relation in get_relations(cls).values():
            names.update(relation.profiles)
        for projection in get_projections(cls).values():
            names.update(projection.profiles)
        cached = frozenset(names)
        _profiles_cache[cls] = cached
    return cached


def relation_target(cls: type, name: str) -> type | None:
    """The model a relation attribute points at, from its annotation.

    ``list[Target]`` and ``Target | None`` give ``Target``; an untyped many-to-many
    (``list[dict[str, Any]]``) gives ``None``.

    Raises:
        KeyError: ``name`` is not a relation of ``cls``.
    """
    if name not in getattr(cls, "__loom_relations__", {}):
        raise KeyError(f"{cls.__name__} has no relation {name!r}")
    annotation = next(f.type for f in msgspec.structs.fields(cls) if f.name == name)
    target, _ = unwrap_optional(_strip_annotated(annotation)[0])
    if typing.get_origin(target) in (list, tuple, set, frozenset):
        target = typing.get_args(target)[0] if typing.get_args(target) else None
    target = _strip_annotated(target)[0]
    if isinstance(target, type) and isinstance(target, msgspec.StructMeta):
        return target
    return None
