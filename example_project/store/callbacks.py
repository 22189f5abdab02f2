"""Callbacks of the restock email job: mark the product's category once the job ends."""

from __future__ import annotations

import logging
from typing import Any

from loom_django.core.errors import NotFound
from loom_django.core.use_case.invoker import ApplicationInvoker
from store.models import Product

__all__ = ["RestockEmailFailureCallback", "RestockEmailSuccessCallback"]

_log = logging.getLogger("store.callbacks")

NOTIFIED = "-restock-notified"
FAILED = "-restock-failed"


async def _suffix_category(app: ApplicationInvoker, product_id: Any, suffix: str) -> None:
    entity = app.entity(Product)
    try:
        product = await entity.get(params={"id": product_id})
    except NotFound:
        _log.warning("product %s is gone; category not marked %s", product_id, suffix)
        return
    if product.category.endswith(suffix):
        return
    await entity.update(
        params={"id": product.id}, payload={"category": f"{product.category}{suffix}"}
    )


class RestockEmailSuccessCallback:
    """After a sent restock email (result ``True``): category gets ``-restock-notified``."""

    def __init__(self, app: ApplicationInvoker) -> None:
        self._app = app

    async def on_success(self, job_id: str, result: Any, **context: Any) -> None:
        if result:
            await _suffix_category(self._app, context.get("product_id"), NOTIFIED)

    def on_failure(self, job_id: str, exc_type: str, exc_msg: str, **context: Any) -> None:
        _log.info("restock email job %s failed: %s: %s", job_id, exc_type, exc_msg)


class RestockEmailFailureCallback:
    """After the last failed attempt: category gets ``-restock-failed``."""

    def __init__(self, app: ApplicationInvoker) -> None:
        self._app = app

    def on_success(self, job_id: str, result: Any, **context: Any) -> None:
        return None

    async def on_failure(self, job_id: str, exc_type: str, exc_msg: str, **context: Any) -> None:
        _log.warning("restock email job %s failed: %s: %s", job_id, exc_type, exc_msg)
        await _suffix_category(self._app, context.get("product_id"), FAILED)
