"""The loom side: a job loading one row by id and describing it."""

from __future__ import annotations

from loom_django.core.job.job import Job
from loom_django.core.use_case import LoadById

from .models import BenchItem


class ItemSummaryJob(Job[str]):
    __queue__ = "bench"

    def execute(self, item_id: int, item: BenchItem = LoadById(BenchItem, by="item_id")) -> str:
        return f"{item.name}:{item.stock}"
