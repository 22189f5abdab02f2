"""The admin of job results: django-celery-results' TaskResult admin plus a loom task filter."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from loom_django.celery.names import CALLBACK_ERROR_PREFIX, CALLBACK_PREFIX, JOB_PREFIX

__all__ = ["LoomTaskFilter", "extend_task_result_admin"]


class LoomTaskFilter(admin.SimpleListFilter):
    """Filter TaskResult rows by kind: loom jobs, loom callbacks, other tasks."""

    title = "loom task"
    parameter_name = "loom"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("jobs", "loom jobs"), ("callbacks", "loom callbacks"), ("other", "other tasks")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        callbacks = Q(task_name__startswith=CALLBACK_PREFIX) | Q(
            task_name__startswith=CALLBACK_ERROR_PREFIX
        )
        if self.value() == "jobs":
            return queryset.filter(task_name__startswith=JOB_PREFIX)
        if self.value() == "callbacks":
            return queryset.filter(callbacks)
        if self.value() == "other":
            return queryset.exclude(task_name__startswith=JOB_PREFIX).exclude(callbacks)
        return queryset


def extend_task_result_admin(site: admin.AdminSite | None = None) -> bool:
    """Add :class:`LoomTaskFilter` to the registered TaskResult admin; True if it did."""
    site = site or admin.site
    try:
        from django_celery_results.models import TaskResult
    except ImportError:  # pragma: no cover - installed with loom_django[celery]
        return False
    current = site._registry.get(TaskResult)
    if current is None or LoomTaskFilter in current.list_filter:
        return False
    base = type(current)
    extended = type(
        f"Loom{base.__name__}",
        (base,),
        {"list_filter": (LoomTaskFilter, *base.list_filter), "__module__": __name__},
    )
    site.unregister(TaskResult)
    site.register(TaskResult, extended)
    return True
