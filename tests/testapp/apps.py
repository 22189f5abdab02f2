"""AppConfig of the test app."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ["TestAppConfig"]


class TestAppConfig(AppConfig):
    """Loom models declared in ``tests.testapp.models`` become Django models of this app."""

    name = "tests.testapp"
    label = "testapp"
    default_auto_field = "django.db.models.BigAutoField"
