"""Callbacks of the test jobs: they record every call in CallbackLog rows."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from django.db import connection

from loom_django.core.errors import NotFound
from loom_django.core.use_case.invoker import ApplicationInvoker
from loom_django.orm import django_model_for
from tests.jobsapp.models import CallbackLog
from tests.testapp.models import Product

_log = logging.getLogger("tests.jobsapp")


def _detail(**values: Any) -> str:
    return msgspec.json.encode(values).decode()


class RecordingCallback:
    """Sync callback writing through the Django ORM inside the callback's unit of work."""

    def on_success(self, job_id: str, result: Any, **context: Any) -> None:
        django_model_for(CallbackLog)._default_manager.create(
            job_id=job_id,
            kind="success",
            detail=_detail(result=result, context=context, atomic=connection.in_atomic_block),
        )

    def on_failure(self, job_id: str, exc_type: str, exc_msg: str, **context: Any) -> None:
        django_model_for(CallbackLog)._default_manager.create(
            job_id=job_id,
            kind="failure",
            detail=_detail(exc_type=exc_type, exc_msg=exc_msg, context=context),
        )


class AsyncRecordingCallback:
    """Async callback writing through ApplicationInvoker (auto-CRUD create)."""

    def __init__(self, app: ApplicationInvoker) -> None:
        self._app = app

    async def on_success(self, job_id: str, result: Any, **context: Any) -> None:
        await self._app.entity(CallbackLog).create(
            payload={
                "job_id": job_id,
                "kind": "async-success",
                "detail": _detail(result=result, context=context),
            }
        )

    async def on_failure(self, job_id: str, exc_type: str, exc_msg: str, **context: Any) -> None:
        await self._app.entity(CallbackLog).create(
            payload={
                "job_id": job_id,
                "kind": "async-failure",
                "detail": _detail(exc_type=exc_type, exc_msg=exc_msg, context=context),
            }
        )


class CategoryCallback:
    """The seed's restock callback: suffix the product category, once, via the invoker."""

    def __init__(self, app: ApplicationInvoker) -> None:
        self._app = app

    async def _suffix(self, job_id: str, product_id: Any, suffix: str) -> None:
        entity = self._app.entity(Product)
        try:
            product = await entity.get(params={"id": product_id})
        except NotFound:
            return
        before = connection.in_atomic_block
        if not product.category.endswith(suffix):
            await entity.update(
                params={"id": product.id}, payload={"category": f"{product.category}{suffix}"}
            )
        django_model_for(CallbackLog)._default_manager.create(
            job_id=job_id,
            kind=suffix,
            detail=_detail(atomic_get=before, atomic_update=connection.in_atomic_block),
        )

    async def on_success(self, job_id: str, result: Any, **context: Any) -> None:
        if result:
            await self._suffix(job_id, context.get("product_id"), "-restock-notified")

    async def on_failure(self, job_id: str, exc_type: str, exc_msg: str, **context: Any) -> None:
        await self._suffix(job_id, context.get("product_id"), "-restock-failed")


class LoggingCallback:
    """Logs from both methods (the trace id must be on those records)."""

    def on_success(self, job_id: str, result: Any, **context: Any) -> None:
        _log.warning("logging callback success for %s", job_id)

    def on_failure(self, job_id: str, exc_type: str, exc_msg: str, **context: Any) -> None:
        _log.warning("logging callback failure for %s", job_id)
