"""Transactions and repository behaviour seen through HTTP (spec/rest.md criteria 47-53)."""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test import AsyncClient
from django.test.utils import CaptureQueriesContext

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


def _product_model() -> Any:
    from loom_django.orm import django_model_for
    from tests.restapp.models import RestProduct

    return django_model_for(RestProduct)


@contextmanager
def _count_atomic() -> Any:
    entered: list[int] = []
    original = transaction.Atomic.__enter__

    def counting(self: Any) -> Any:
        entered.append(1)
        return original(self)

    transaction.Atomic.__enter__ = counting  # type: ignore[method-assign]
    try:
        yield entered
    finally:
        transaction.Atomic.__enter__ = original  # type: ignore[method-assign]


@pytest.mark.django_db
def test_failing_post_leaves_table_unchanged(client):
    before = _product_model().objects.count()
    response = client.post(
        "/products/create-then-fail", {"sku": "TX-1", "name": "x"}, content_type=JSON
    )
    assert response.status_code == 500
    assert _product_model().objects.count() == before
    assert not _product_model().objects.filter(sku="TX-1").exists()


@pytest.mark.django_db
def test_get_runs_without_transaction(client):
    created = body(
        client.post(
            "/products/",
            {"sku": "TX-2", "name": "x", "price_cents": 1, "stock": 1},
            content_type=JSON,
        )
    )
    with _count_atomic() as entered:
        assert client.get(f"/products/{created['id']}").status_code == 200
        assert client.get("/products/").status_code == 200
    assert entered == []


@pytest.mark.django_db(transaction=True)
def test_get_sends_no_begin_or_commit(client):
    created = body(
        client.post(
            "/products/",
            {"sku": "TX-4", "name": "x", "price_cents": 1, "stock": 1},
            content_type=JSON,
        )
    )
    with CaptureQueriesContext(connection) as reads:
        assert client.get(f"/products/{created['id']}").status_code == 200
    with CaptureQueriesContext(connection) as writes:
        failed = client.post(
            "/products/create-then-fail", {"sku": "TX-5", "name": "x"}, content_type=JSON
        )
        assert failed.status_code == 500
    read_sql = [q["sql"].upper() for q in reads.captured_queries]
    assert read_sql and not any(s.startswith(("BEGIN", "COMMIT", "SAVEPOINT")) for s in read_sql)
    if connection.vendor == "postgresql":
        assert any(q["sql"].upper().startswith("BEGIN") for q in writes.captured_queries)


@pytest.mark.django_db(transaction=True)
def test_missing_foreign_key_is_409_or_guarded_404(client):
    unguarded = client.post("/order-items/", {"order_id": 424242, "quantity": 1}, content_type=JSON)
    assert unguarded.status_code == 409
    assert body(unguarded)["detail"]["code"] == "conflict"
    guarded = client.post(
        "/order-items/guarded", {"order_id": 424242, "quantity": 1}, content_type=JSON
    )
    assert guarded.status_code == 404
    assert body(guarded)["detail"]["entity"] == "RestOrder"


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_auto_patch_is_one_update_returning(client):
    created = body(
        client.post(
            "/products/",
            {"sku": "TX-3", "name": "x", "price_cents": 1, "stock": 1},
            content_type=JSON,
        )
    )
    with CaptureQueriesContext(connection) as queries:
        response = client.patch(f"/products/{created['id']}", {"stock": 9}, content_type=JSON)
    assert response.status_code == 200
    statements = [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"]
        .upper()
        .startswith(("SAVEPOINT", "RELEASE", "SET CONSTRAINTS", "BEGIN", "COMMIT"))
    ]
    assert len(statements) == 1, statements
    assert statements[0].upper().startswith("UPDATE")
    assert "RETURNING" in statements[0].upper()


@pytest.mark.django_db(transaction=True)
def test_concurrent_asgi_posts_are_isolated():
    async def scenario() -> tuple[int, int]:
        client = AsyncClient(raise_request_exception=False)
        good, bad = await asyncio.gather(
            client.post(
                "/async-products/",
                {"sku": "OK-1", "name": "ok", "price_cents": 1, "stock": 1},
                content_type=JSON,
            ),
            client.post(
                "/products/create-then-fail", {"sku": "BAD-1", "name": "bad"}, content_type=JSON
            ),
        )
        return good.status_code, bad.status_code

    assert run_async(scenario()) == (201, 500)
    model = _product_model()
    assert model.objects.filter(sku="OK-1").exists()
    assert not model.objects.filter(sku="BAD-1").exists()


@pytest.fixture
def atomic_requests() -> Any:
    settings_dict = connections.settings["default"]
    previous = settings_dict.get("ATOMIC_REQUESTS", False)
    settings_dict["ATOMIC_REQUESTS"] = True
    connection.settings_dict["ATOMIC_REQUESTS"] = True
    yield
    settings_dict["ATOMIC_REQUESTS"] = previous
    connection.settings_dict["ATOMIC_REQUESTS"] = previous


@pytest.mark.django_db(transaction=True)
def test_atomic_requests_do_not_break_loom_routes(client, atomic_requests):
    created = client.post(
        "/async-products/",
        {"sku": "AR-1", "name": "x", "price_cents": 1, "stock": 1},
        content_type=JSON,
    )
    assert created.status_code == 201
    assert client.get(f"/async-products/{body(created)['id']}").status_code == 200
    assert (
        client.post(
            "/products/",
            {"sku": "AR-2", "name": "x", "price_cents": 1, "stock": 1},
            content_type=JSON,
        ).status_code
        == 201
    )
    assert client.get("/products/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_atomic_requests_under_asgi(atomic_requests):
    async def scenario() -> int:
        response = await AsyncClient(raise_request_exception=False).post(
            "/async-products/",
            {"sku": "AR-3", "name": "x", "price_cents": 1, "stock": 1},
            content_type=JSON,
        )
        return response.status_code

    assert run_async(scenario()) == 201


@pytest.mark.django_db
def test_profile_list_query_count_is_bounded(client, django_assert_max_num_queries):
    from loom_django.orm import django_model_for
    from tests.restapp.models import RestReview

    model = _product_model()
    review = django_model_for(RestReview)
    products = [
        model.objects.create(sku=f"Q-{i}", name="q", price_cents=1, stock=1) for i in range(50)
    ]
    for product in products:
        review.objects.create(product_id=product.pk, body="b")
    with django_assert_max_num_queries(4):
        response = client.get("/products/?profile=with_details&limit=50")
    data = body(response)
    assert len(data["items"]) == 50
    assert all(item["countReviews"] == 1 for item in data["items"])
