"""Jobs dispatched by the Celery door tests (discovered in the test process and the worker)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import msgspec
from celery import current_task

from loom_django.core.command import Command
from loom_django.core.job.job import Job
from loom_django.core.job.service import JobService
from loom_django.core.use_case import Input, LoadById
from loom_django.core.use_case.invoker import ApplicationInvoker
from loom_django.orm import django_model_for
from tests.jobsapp.models import JobRecord
from tests.testapp.models import Product

_log = logging.getLogger("tests.jobsapp")


def attempt() -> int:
    """The zero-based attempt number of the running Celery task (0 outside Celery)."""
    request = getattr(current_task, "request", None)
    return int(getattr(request, "retries", 0) or 0)


def mark(path: str | None, text: str) -> None:
    """Append ``<time> <pid> <text>`` to ``path`` (outside any transaction; survives rollbacks)."""
    if path:
        with Path(path).open("a") as handle:
            handle.write(f"{time.time():.3f} {os.getpid()} {text}\n")


def records_named(name: str) -> int:
    """Committed-or-visible JobRecord rows with ``name``."""
    return int(django_model_for(JobRecord)._default_manager.filter(name=name).count())


class CountRecordsJob(Job[int]):
    """Counts records (so a test sees whether the dispatcher's rows were committed)."""

    def execute(self, name: str) -> int:
        return records_named(name)


class RestockEmail(Command, frozen=True):
    recipient_email: str
    force_fail: bool = False


class RestockEmailJob(Job[bool]):
    __queue__ = "notifications"
    __retries__ = 2

    async def execute(
        self,
        product_id: int,
        cmd: RestockEmail = Input(),
        product: Product = LoadById(Product, by="product_id"),
    ) -> bool:
        if cmd.force_fail:
            raise RuntimeError("forced restock email failure")
        _log.info("restock email for product %s to %s", product.id, cmd.recipient_email)
        return product.stock == 0


class ProductSummaryJob(Job[str]):
    __queue__ = "analytics"
    __retries__ = 3

    async def execute(
        self, product_id: int, product: Product = LoadById(Product, by="product_id")
    ) -> str:
        state = "in stock" if product.stock > 0 else "out of stock"
        return f"{product.sku} ({product.name}) is {state}."


class AlwaysFailsJob(Job[None]):
    __retries__ = 2

    def execute(self, marks: str | None = None) -> None:
        mark(marks, f"attempt {attempt()}")
        raise RuntimeError("always fails")


class RecordView(msgspec.Struct, rename="camel"):
    record_id: int
    display_name: str


class StructResultJob(Job[RecordView]):
    def execute(self, name: str) -> RecordView:
        return RecordView(record_id=7, display_name=name.title())


class RecordThenFailJob(Job[int]):
    """Invokes CreateRecordUseCase, then fails on the first ``fail_times`` attempts."""

    __retries__ = 2

    def __init__(self, app: ApplicationInvoker) -> None:
        self._app = app

    async def execute(self, name: str, fail_times: int = 0) -> int:
        from tests.jobsapp.use_cases import CreateRecordUseCase

        await self._app.invoke(CreateRecordUseCase, payload={"name": name})
        if attempt() < fail_times:
            raise RuntimeError(f"attempt {attempt()} fails after writing")
        return records_named(name)


class ParentJob(Job[str]):
    """Writes a record and dispatches ChildJob, which counts it (after the parent's commit)."""

    def __init__(self, jobs: JobService) -> None:
        self._jobs = jobs

    def execute(self, name: str, fail: bool = False) -> str:
        django_model_for(JobRecord)._default_manager.create(name=name)
        handle = self._jobs.dispatch(ChildJob, params={"name": name}, payload={"name": name})
        if fail:
            raise RuntimeError("parent failed after dispatching")
        return handle.job_id


class ChildJob(Job[int]):
    def execute(self, name: str) -> int:
        return records_named(name)


class SlowJob(Job[None]):
    __timeout__ = 1

    async def execute(self, seconds: float = 5.0) -> None:
        time.sleep(seconds)


class SleepJob(Job[str]):
    """Marks its start, sleeps, returns: the worker-kill test kills a worker while it sleeps."""

    def execute(self, seconds: float, marks: str | None = None) -> str:
        mark(marks, "start")
        time.sleep(seconds)
        mark(marks, "done")
        return "slept"


class LoggingJob(Job[str]):
    def execute(self, text: str) -> str:
        _log.warning("logging job says %s", text)
        return text


class EchoJob(Job[dict[str, Any]]):
    def execute(self, value: int = 0) -> dict[str, Any]:
        return {"value": value}
