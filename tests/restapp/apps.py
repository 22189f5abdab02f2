"""AppConfig of the REST test app."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ["RestAppConfig"]


class RestAppConfig(AppConfig):
    """Loom models in ``tests.restapp.models`` become Django models of this app."""

    name = "tests.restapp"
    label = "restapp"
    default_auto_field = "django.db.models.BigAutoField"
