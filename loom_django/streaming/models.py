"""The stream inbox: one row per processed idempotency key, written in the use case's
transaction, so a redelivered message re-emits its stored result instead of writing again."""

from __future__ import annotations

from django.db import models

__all__ = ["StreamInbox"]


class StreamInbox(models.Model):
    """A message (or business key) a flow already processed, with the result it emitted.

    ``result`` holds the emitted payload encoded with msgpack and ``result_type`` the
    ``module:qualname`` of its class (empty when the step emitted nothing). Rows older than
    the redelivery window can be deleted with ``manage.py loom_stream prune-inbox``.
    """

    flow = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    result = models.BinaryField(null=True, blank=True)
    result_type = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        app_label = "loom_django"
        db_table = "loom_django_stream_inbox"
        verbose_name = "stream inbox entry"
        verbose_name_plural = "stream inbox"
        constraints = [
            models.UniqueConstraint(fields=["flow", "key"], name="loom_stream_inbox_flow_key")
        ]

    def __str__(self) -> str:
        return f"{self.flow}:{self.key}"
