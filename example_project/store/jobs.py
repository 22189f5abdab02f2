"""Background jobs of the store (seed 001): restock email, product summary, ERP sync."""

from __future__ import annotations

import logging

from loom_django.core.command import Command
from loom_django.core.job.job import Job
from loom_django.core.use_case import Input, LoadById
from store.models import Product

__all__ = [
    "BuildProductSummaryJob",
    "SendRestockEmailJob",
    "SendRestockEmailJobCommand",
    "SyncProductToErpCommand",
    "SyncProductToErpJob",
    "product_summary",
]

_log = logging.getLogger("store.jobs")


class SendRestockEmailJobCommand(Command, frozen=True):
    recipient_email: str
    force_fail: bool = False


class SendRestockEmailJob(Job[bool]):
    """Tell ``recipient_email`` that a product ran out; ``True`` when an email was sent."""

    __queue__ = "notifications"
    __retries__ = 2

    async def execute(
        self,
        product_id: int,
        cmd: SendRestockEmailJobCommand = Input(),
        product: Product = LoadById(Product, by="product_id"),
    ) -> bool:
        if cmd.force_fail:
            raise RuntimeError("forced restock email failure")
        if product.stock > 0:
            return False
        _log.info("restock email for %s sent to %s", product.sku, cmd.recipient_email)
        return True


def product_summary(product: Product) -> str:
    """The one-line description the summary job and the restock workflow return."""
    availability = "in stock" if product.stock > 0 else "out of stock"
    return (
        f"Product {product.sku} ({product.name}) in category {product.category} "
        f"costs {product.price_cents} cents and is {availability}."
    )


class BuildProductSummaryJob(Job[str]):
    """Describe a product (run in-process by the summary route and the restock workflow)."""

    __queue__ = "analytics"

    async def execute(
        self, product_id: int, product: Product = LoadById(Product, by="product_id")
    ) -> str:
        return product_summary(product)


class SyncProductToErpCommand(Command, frozen=True):
    force_fail: bool = False


class SyncProductToErpJob(Job[bool]):
    """Push one product to the ERP (simulated); ``force_fail`` makes every attempt fail."""

    __queue__ = "erp"
    __retries__ = 3

    async def execute(
        self,
        product_id: int,
        cmd: SyncProductToErpCommand = Input(),
        product: Product = LoadById(Product, by="product_id"),
    ) -> bool:
        if cmd.force_fail:
            raise RuntimeError(f"ERP rejected product {product.sku}")
        _log.info("product %s synchronised with the ERP", product.sku)
        return True
