"""Resolve table references (model classes, logical names) to Django table routes."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import models

from loom_django.etl.config import EtlConfig
from loom_django.etl.plan import ColumnInfo, TableRoute

__all__ = ["RouteError", "model_route", "resolve_route", "table_name"]

_AUTO = (models.AutoField, models.BigAutoField, models.SmallAutoField)


class RouteError(LookupError):
    """A table reference resolves to nothing."""


def _django_model(ref: type[Any]) -> type[models.Model]:
    if issubclass(ref, models.Model):
        return ref
    # A loom model's Django model has its ``__tablename__`` as ``db_table`` (the ORM door's
    # mapping); found through Django's registry so this door needs no other door.
    table = getattr(ref, "__tablename__", None)
    for model in apps.get_models():
        if table is not None and model._meta.db_table == table:
            return model
    raise RouteError(
        f"{getattr(ref, '__qualname__', ref)!r} is not a Django model nor a mapped loom model"
    )


def _attname(model: type[models.Model], name: str) -> str:
    return str(getattr(model._meta.get_field(name), "attname", name))


def table_name(ref: Any) -> str:
    """The logical name of a reference: ``app_label.model_name`` for models."""
    if isinstance(ref, str):
        return ref
    model = _django_model(ref)
    return f"{model._meta.app_label}.{model._meta.model_name}"


def model_route(model: type[models.Model], database: str, name: str) -> TableRoute:
    """Introspect ``model``'s concrete fields (frame column = attname)."""
    columns = []
    for f in model._meta.concrete_fields:
        if getattr(f, "generated", False):
            continue
        columns.append(
            ColumnInfo(
                name=f.attname,
                column=str(f.column),
                field=f,
                nullable=bool(f.null),
                has_default=f.has_default()
                or bool(
                    getattr(f, "db_default", None) is not None
                    and f.db_default is not models.NOT_PROVIDED
                )
                or bool(getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)),
                auto=isinstance(f, _AUTO),
            )
        )
    uniques: list[frozenset[str]] = [frozenset({model._meta.pk.attname})] if model._meta.pk else []
    for f in model._meta.concrete_fields:
        if f.unique:
            uniques.append(frozenset({f.attname}))
    for together in model._meta.unique_together:
        uniques.append(frozenset(_attname(model, n) for n in together))
    for constraint in model._meta.constraints:
        unconditional = isinstance(constraint, models.UniqueConstraint) and (
            constraint.condition is None and constraint.fields
        )
        if unconditional:
            names = constraint.fields  # type: ignore[attr-defined]
            uniques.append(frozenset(_attname(model, n) for n in names))
    pk = (model._meta.pk.attname,) if model._meta.pk else ()
    return TableRoute(
        name=name,
        model=model,
        table=str(model._meta.db_table),
        database=database,
        columns=tuple(columns),
        pk=pk,
        unique_sets=tuple(uniques),
    )


def resolve_route(ref: Any, config: EtlConfig, database: str | None) -> TableRoute:
    """The route of ``ref``: a config route of the same name wins, then the model, then
    ``app_label.model_name`` autorouting.

    Raises:
        RouteError: nothing matches ``ref``.
    """
    name = table_name(ref)
    explicit = config.table_route(name)
    if explicit is not None:
        alias = database or explicit.database
        if explicit.model:
            return model_route(apps.get_model(explicit.model), alias, name)
        raise RouteError(f"route {name!r}: raw-table routes are not supported yet; use model:")
    if not isinstance(ref, str):
        return model_route(_django_model(ref), database or "default", name)
    if config.storage.django_autoroute and name.count(".") == 1:
        try:
            model = apps.get_model(name)
        except LookupError:
            pass
        else:
            return model_route(model, database or "default", name)
    raise RouteError(
        f"no route for table {name!r}: add it to etl.storage.tables or name an installed "
        "model as 'app_label.ModelName'"
    )


def delta_location(ref: Any, config: EtlConfig) -> str | None:
    """The Delta location of ``ref`` (a logical name): a ``path`` route, else
    ``storage.defaults.table_path`` when no Django route matches; ``None`` for Django tables."""
    if not isinstance(ref, str):
        return None
    for route in config.storage.tables:
        if route.name == ref:
            return route.path.uri if route.path is not None else None
    if config.storage.defaults.table_path is None:
        return None
    try:
        resolve_route(ref, config, None)
    except (RouteError, LookupError):
        return config.delta_uri(ref)
    return None
