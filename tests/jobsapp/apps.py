"""AppConfig of the jobs test app."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ["JobsAppConfig"]


class JobsAppConfig(AppConfig):
    """Jobs, callbacks and use cases the Celery door tests dispatch (web and worker)."""

    name = "tests.jobsapp"
    label = "jobsapp"
    default_auto_field = "django.db.models.BigAutoField"
