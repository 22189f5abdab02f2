"""Read-only Django admin pages for the ETL run history."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from loom_django.etl.models import EtlLock, EtlPipelineRun, EtlStepRun

__all__ = ["register"]


class _ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class _StepInline(admin.TabularInline):  # type: ignore[type-arg]
    model = EtlStepRun
    extra = 0
    can_delete = False
    fields = ("step", "status", "duration_ms", "rows_written", "rows_rejected", "error_type")
    readonly_fields = fields

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class PipelineRunAdmin(_ReadOnly):
    """Runs, newest first, filterable by pipeline and status."""

    list_display = (
        "started_at",
        "pipeline",
        "status",
        "duration_ms",
        "rows_written",
        "rows_rejected",
    )
    list_filter = ("status", "pipeline", "backend")
    search_fields = ("run_id", "pipeline", "error_message")
    ordering = ("-started_at",)
    inlines = (_StepInline,)


class LockAdmin(_ReadOnly):
    """Held locks (delete one to release a stuck lock)."""

    list_display = ("key", "run_id", "acquired_at", "heartbeat_at", "host", "pid")


def register(site: admin.AdminSite | None = None) -> None:
    """Register the history admin pages on ``site`` (default: ``admin.site``), once."""
    site = site or admin.site
    if not site.is_registered(EtlPipelineRun):
        site.register(EtlPipelineRun, PipelineRunAdmin)
    if not site.is_registered(EtlLock):
        site.register(EtlLock, LockAdmin)
