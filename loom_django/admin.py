"""Django admin for loom models: ``register(Model, **options)`` and ``LOOM["ADMIN_AUTOREGISTER"]``.

Admin writes go straight to the Django model: use-case rules and computes do not run.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models

from loom_django.core.model import column_map
from loom_django.orm.mapping import django_model_for, is_generated, mapped_pairs

__all__ = ["LoomModelAdmin", "admin_options", "autoregister", "register", "unregister"]

_auto: dict[tuple[int, type[models.Model]], bool] = {}


class LoomModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Base ModelAdmin of loom models (server-generated columns are read-only)."""


def admin_options(loom_model: type[Any]) -> dict[str, Any]:
    """Default options: every column listed, indexed text columns searchable, filters on
    foreign keys and booleans, database-generated columns read-only."""
    django_model = django_model_for(loom_model)
    fields = {f.attname: f for f in django_model._meta.concrete_fields}
    fields.update({str(f.column): f for f in django_model._meta.concrete_fields})
    display: list[str] = []
    search: list[str] = []
    filters: list[str] = []
    readonly: list[str] = []
    for name, info in column_map(loom_model).items():
        field = fields[name]
        display.append(field.attname)
        text = isinstance(field, models.CharField | models.TextField)
        indexed = getattr(field, "db_index", False) or field.unique
        if text and indexed and not field.is_relation:
            search.append(field.name)
        if field.is_relation or isinstance(field, models.BooleanField):
            filters.append(field.name)
        if info.field.server_generated:
            readonly.append(field.name)
    return {
        "list_display": tuple(display),
        "search_fields": tuple(search),
        "list_filter": tuple(filters),
        "readonly_fields": tuple(readonly),
    }


def register(
    loom_model: type[Any],
    admin_class: type[admin.ModelAdmin] | None = None,  # type: ignore[type-arg]
    *,
    site: admin.AdminSite | None = None,
    **options: Any,
) -> type[admin.ModelAdmin]:  # type: ignore[type-arg]
    """Register ``loom_model``'s Django model; ``options`` override the defaults.

    Replaces an automatic registration of the same model, so an app's ``admin.py`` can
    customise one model while ``ADMIN_AUTOREGISTER`` covers the rest.
    """
    site = site or admin.site
    django_model = django_model_for(loom_model)
    if _auto.pop((id(site), django_model), False) and site.is_registered(django_model):
        site.unregister(django_model)
    attrs = {**admin_options(loom_model), **options}
    base = admin_class or LoomModelAdmin
    model_admin = type(f"{loom_model.__name__}Admin", (base,), attrs)
    site.register(django_model, model_admin)
    return model_admin


def unregister(loom_model: type[Any], *, site: admin.AdminSite | None = None) -> None:
    """Remove ``loom_model`` from the admin site."""
    site = site or admin.site
    django_model = django_model_for(loom_model)
    _auto.pop((id(site), django_model), None)
    site.unregister(django_model)


def autoregister(site: admin.AdminSite | None = None) -> list[type[Any]]:
    """Register every generated loom model not registered yet; returns those registered."""
    site = site or admin.site
    done = []
    for loom_model, django_model in mapped_pairs():
        if not is_generated(loom_model) or site.is_registered(django_model):
            continue
        register(loom_model, site=site)
        _auto[(id(site), django_model)] = True
        done.append(loom_model)
    return done


def _autoregister_from_settings() -> None:
    from loom_django.conf import conf

    if conf.ADMIN_AUTOREGISTER:
        autoregister()


_autoregister_from_settings()
