"""AppConfig of the jobs benchmark app."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ["BenchJobsConfig"]


class BenchJobsConfig(AppConfig):
    """One loom model, one loom job, and the same work as a plain Celery task."""

    name = "bench.jobs.benchapp"
    label = "benchjobs"
    default_auto_field = "django.db.models.BigAutoField"
