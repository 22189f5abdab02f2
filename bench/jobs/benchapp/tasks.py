"""The baseline: the same work as ``ItemSummaryJob`` written as a plain Celery task."""

from __future__ import annotations

from celery import shared_task

from loom_django.core.errors import NotFound
from loom_django.orm import django_model_for

from .models import BenchItem


@shared_task(name="bench.item_summary", acks_late=True, reject_on_worker_lost=True)
def item_summary(item_id: int) -> str:
    row = django_model_for(BenchItem)._default_manager.filter(pk=item_id).first()
    if row is None:
        raise NotFound("BenchItem", id=item_id)
    return f"{row.name}:{row.stock}"
