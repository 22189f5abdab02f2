"""Async handlers (``handler_mode: async``) in-process under ASGI and WSGI test clients."""

from __future__ import annotations

import asyncio

import pytest
from django.test import AsyncClient

from loom_django.rest.config import RestConfig
from loom_django.rest.ninja import get_api
from tests.rest.conftest import body

JSON = "application/json"


def run_async(coro):
    """Run ``coro``, then close the DB connections its sync-to-async thread opened."""
    from asgiref.sync import sync_to_async
    from django.db import connections

    async def main():
        try:
            return await coro
        finally:
            await sync_to_async(connections.close_all)()

    return asyncio.run(main())


def test_async_interface_uses_async_views():
    routes = [r for r in get_api().loom_routes if r.full_path.startswith("/async-products")]
    assert routes and all(r.handler_mode == "async" for r in routes)


@pytest.mark.django_db(transaction=True)
def test_async_crud_round_trip_under_asgi():
    async def scenario() -> None:
        client = AsyncClient(raise_request_exception=False)
        created = await client.post(
            "/async-products/",
            {"sku": "A-1", "name": "a", "price_cents": 5, "stock": 2},
            content_type=JSON,
        )
        assert created.status_code == 201
        product_id = body(created)["id"]
        got = await client.get(f"/async-products/{product_id}")
        assert got.status_code == 200 and body(got)["sku"] == "A-1"
        patched = await client.patch(
            f"/async-products/{product_id}", {"stock": 7}, content_type=JSON
        )
        assert body(patched)["stock"] == 7
        listed = await client.get("/async-products/?stock__eq=7")
        assert body(listed)["totalCount"] == 1
        missing = await client.get("/async-products/999999")
        assert missing.status_code == 404
        assert body(missing)["detail"]["trace_id"] == missing["X-Request-ID"]
        deleted = await client.delete(f"/async-products/{product_id}")
        assert deleted.content == b"true"

    run_async(scenario())


@pytest.mark.django_db
def test_async_views_work_under_wsgi_client(client):
    created = client.post(
        "/async-products/",
        {"sku": "A-2", "name": "a", "price_cents": 5, "stock": 2},
        content_type=JSON,
    )
    assert created.status_code == 201
    assert client.get(f"/async-products/{body(created)['id']}").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_global_async_handler_mode(serve):
    from tests.restapp.interfaces import OrderInterface

    serve([OrderInterface], RestConfig(handler_mode="async"))

    async def scenario() -> int:
        response = await AsyncClient(raise_request_exception=False).get("/orders/")
        return response.status_code

    assert run_async(scenario()) == 200
