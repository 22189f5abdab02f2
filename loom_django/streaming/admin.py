"""Read-only Django admin page for the stream inbox (delete rows to let a key run again)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from loom_django.streaming.models import StreamInbox

__all__ = ["StreamInboxAdmin", "register"]


class StreamInboxAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Processed keys, newest first, searchable by key, filterable by flow."""

    list_display = ("created_at", "flow", "key", "result_type")
    list_filter = ("flow",)
    search_fields = ("key",)
    ordering = ("-created_at",)
    readonly_fields = ("flow", "key", "result_type", "created_at")
    exclude = ("result",)

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


def register(site: admin.AdminSite | None = None) -> None:
    """Register the inbox page on ``site`` (default: ``admin.site``), once."""
    site = site or admin.site
    if not site.is_registered(StreamInbox):
        site.register(StreamInbox, StreamInboxAdmin)
