"""AppConfig of the store app."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ["StoreConfig"]


class StoreConfig(AppConfig):
    """Loom models declared in ``store.models`` become this app's Django models."""

    name = "store"
    default_auto_field = "django.db.models.BigAutoField"
