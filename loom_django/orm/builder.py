"""Build the Django model class of one loom model: columns, foreign keys, many-to-many, Meta."""

from __future__ import annotations

from typing import Any, cast

import msgspec
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from loom_django.core.model import (
    Cardinality,
    ColumnFieldInfo,
    OnDelete,
    column_map,
    get_id_attribute,
    get_projections,
    get_relations,
    get_table_name,
    relation_target,
)
from loom_django.orm.fields import ON_DELETE, column_kwargs, django_field, fk_name
from loom_django.orm.registry import REGISTRY

__all__ = ["NotReady", "app_label_of", "build_django_model", "resolve_table"]

_REVERSE = (Cardinality.ONE_TO_MANY, Cardinality.ONE_TO_ONE)


class NotReady(Exception):
    """A model cannot be mapped yet: something it refers to is not defined so far."""


def app_label_of(loom: type[Any]) -> str:
    """``__app_label__``, else the label of the installed app containing the loom module.

    Raises:
        ImproperlyConfigured: the module is outside every installed app.
    """
    declared = getattr(loom, "__app_label__", None)
    if isinstance(declared, str) and declared:
        return declared
    config = apps.get_containing_app_config(loom.__module__)
    if config is None:
        raise ImproperlyConfigured(
            f"Loom model {loom.__name__} ({loom.__module__}) is not inside an installed "
            "Django app: add its app to INSTALLED_APPS or declare __app_label__."
        )
    return config.label


def resolve_table(table: str) -> type[Any] | None:
    """The loom model (preferred) or existing Django model whose table is ``table``."""
    loom = REGISTRY.table_model(table)
    if loom is not None:
        return loom
    for app_models in list(apps.all_models.values()):
        for model in list(app_models.values()):
            if model._meta.db_table == table and not getattr(model, "__loom_model__", None):
                return model
    return None


def _columns(loom: type[Any]) -> dict[str, ColumnFieldInfo]:
    try:
        return dict(column_map(loom))
    except NameError as exc:
        raise NotReady(f"{loom.__name__}: {exc}") from exc


def _target(owner: type[Any], relation: str) -> type[Any] | None:
    try:
        return relation_target(owner, relation)
    except NameError as exc:
        raise NotReady(f"{owner.__name__}.{relation}: {exc}") from exc


def _reference(model: type[Any]) -> str:
    if isinstance(model, type) and issubclass(model, models.Model):
        return f"{model._meta.app_label}.{model.__name__}"
    return f"{app_label_of(model)}.{model.__name__}"


def _related_name(owner: type[Any], column: str, target: type[Any]) -> str:
    """Reverse accessor of the FK ``owner.column``: the relation declared over it, else ``+``."""
    table = get_table_name(owner)
    names: dict[str, None] = {}
    if not (isinstance(target, type) and issubclass(target, models.Model)):
        for name, rel in get_relations(target).items():
            if rel.cardinality not in _REVERSE or rel.fk_column != column:
                continue
            if rel.fk_table not in (None, table):
                continue
            found = _target(target, name)
            if found is owner or (found is None and rel.fk_table == table):
                names[name] = None
    for rel in get_relations(owner).values():
        many_to_one = rel.cardinality is Cardinality.MANY_TO_ONE and rel.fk_column == column
        if many_to_one and rel.back_populates:
            names[rel.back_populates] = None
    if len(names) > 1:
        raise ImproperlyConfigured(
            f"{owner.__name__}.{column}: several relations claim this foreign key as their "
            f"reverse side ({', '.join(names)})."
        )
    return next(iter(names), "+")


def _taken_names(loom: type[Any], column: str, columns: dict[str, ColumnFieldInfo]) -> set[str]:
    """Attributes a Django FK derived from ``column`` must not be named after."""
    taken = (set(columns) - {column}) | set(get_projections(loom))
    for name, rel in get_relations(loom).items():
        if not (rel.cardinality is Cardinality.MANY_TO_ONE and rel.fk_column == column):
            taken.add(name)
    return taken


def _struct_defaults(loom: type[Any]) -> dict[str, Any]:
    """``{field: default or default_factory}`` of the struct (fields without one omitted)."""
    found: dict[str, Any] = {}
    for field in msgspec.structs.fields(loom):
        if field.default is not msgspec.NODEFAULT:
            found[field.name] = field.default
        elif field.default_factory is not msgspec.NODEFAULT:
            found[field.name] = field.default_factory
    return found


def _fk_field(
    loom: type[Any], info: ColumnFieldInfo, taken: set[str], default: Any
) -> tuple[str, Any]:
    spec = info.field
    table, dot, column = (spec.foreign_key or "").rpartition(".")
    if not dot or not table:
        raise ImproperlyConfigured(
            f"{loom.__name__}.{info.name}: foreign_key must be '<table>.<column>', "
            f"got {spec.foreign_key!r}."
        )
    target = resolve_table(table)
    if target is None:
        raise NotReady(f"{loom.__name__}.{info.name}: no model has __tablename__ {table!r}")
    if spec.on_delete is OnDelete.SET_NULL and not info.nullable:
        raise ImproperlyConfigured(
            f"{loom.__name__}.{info.name}: on_delete=SET_NULL requires a nullable column "
            "(declare it `T | None` or nullable=True)."
        )
    name = fk_name(info.name)
    if name in taken:
        raise ImproperlyConfigured(
            f"{loom.__name__}.{info.name}: its Django foreign key would be named {name!r}, "
            "which clashes with another attribute of the model."
        )
    kwargs = column_kwargs(info, default)
    kwargs.pop("db_index", None)
    if isinstance(target, type) and issubclass(target, models.Model):
        pk_column = target._meta.pk.column if target._meta.pk else "id"
    else:
        pk_column = get_id_attribute(target)
    if column != pk_column:
        kwargs["to_field"] = column
    if name == info.name:
        kwargs["db_column"] = info.name
    field_cls = models.OneToOneField if spec.unique else models.ForeignKey
    kwargs.pop("unique", None)
    field = field_cls(
        _reference(target),
        on_delete=ON_DELETE[spec.on_delete],
        related_name=_related_name(loom, info.name, target),
        **kwargs,
    )
    return name, field


def _m2m_field(loom: type[Any], name: str, secondary: str, fk_column: str) -> Any:
    link = REGISTRY.table_model(secondary)
    if link is None:
        raise NotReady(f"{loom.__name__}.{name}: no model has __tablename__ {secondary!r}")
    link_columns = _columns(link)
    owner = link_columns.get(fk_column)
    if owner is None or not owner.field.foreign_key:
        raise ImproperlyConfigured(
            f"{loom.__name__}.{name}: {secondary}.{fk_column} is not a foreign key column."
        )
    target = _target(loom, name)
    others = [c for c in link_columns.values() if c.field.foreign_key and c.name != fk_column]
    if target is not None and len(others) > 1:
        prefix = f"{get_table_name(target)}."
        others = [c for c in others if (c.field.foreign_key or "").startswith(prefix)]
    if len(others) != 1:
        raise ImproperlyConfigured(
            f"{loom.__name__}.{name}: cannot tell which foreign key of {secondary!r} points "
            "at the related model."
        )
    target_table = (others[0].field.foreign_key or "").rpartition(".")[0]
    target_model = target or resolve_table(target_table)
    if target_model is None:
        raise NotReady(f"{loom.__name__}.{name}: no model has __tablename__ {target_table!r}")
    return models.ManyToManyField(
        _reference(target_model),
        through=_reference(link),
        through_fields=(fk_name(fk_column), fk_name(others[0].name)),
        related_name="+",
    )


def build_django_model(loom: type[Any], vendor: str) -> type[models.Model]:
    """Create (and register with the app registry) the Django model of ``loom``.

    Raises:
        NotReady: a referenced model or annotation is not defined yet (retry later).
        ImproperlyConfigured: the declaration cannot be mapped (no primary key, outside
            any app, SET_NULL on a NOT NULL column, PostgreSQL type elsewhere, ...).
    """
    label = app_label_of(loom)
    columns = _columns(loom)
    try:
        get_id_attribute(loom)
    except ValueError as exc:
        raise ImproperlyConfigured(str(exc)) from exc
    attrs: dict[str, Any] = {"__module__": loom.__module__, "__qualname__": loom.__qualname__}
    defaults = _struct_defaults(loom)
    for info in columns.values():
        default = defaults.get(info.name, msgspec.NODEFAULT)
        if info.field.foreign_key:
            taken = _taken_names(loom, info.name, columns)
            name, field = _fk_field(loom, info, taken, default)
            attrs[name] = field
        else:
            attrs[info.name] = django_field(loom.__name__, info, vendor, default)
    for name, rel in get_relations(loom).items():
        if rel.cardinality is Cardinality.MANY_TO_MANY and rel.secondary:
            attrs[name] = _m2m_field(loom, name, rel.secondary, rel.fk_column)
    meta = type("Meta", (), {"db_table": get_table_name(loom), "app_label": label})
    attrs["Meta"] = meta
    attrs["__loom_model__"] = loom
    django_model = cast(type[models.Model], type(loom.__name__, (models.Model,), attrs))
    # Set after creation, not in Meta: a label is not a schema change (no migration).
    django_model._meta.verbose_name_plural = _plural(str(django_model._meta.verbose_name))
    return django_model


def _plural(name: str) -> str:
    """English plural of a verbose name ("address" -> "addresses", "category" -> "categories")."""
    if name.endswith(("s", "x", "z", "ch", "sh")):
        return f"{name}es"
    if len(name) > 1 and name.endswith("y") and name[-2] not in "aeiou":
        return f"{name[:-1]}ies"
    return f"{name}s"
