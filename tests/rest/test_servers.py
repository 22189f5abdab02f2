"""The example project served by real servers: uvicorn (ASGI), gunicorn and runserver (WSGI)."""

from __future__ import annotations

import pytest

from tests.rest.servers import example_database, migrate, run_server

pytestmark = pytest.mark.slow


def _round_trip(server) -> None:
    created = server.post(
        "/products/", {"sku": "SRV-1", "name": "n", "category": "c", "price_cents": 1, "stock": 2}
    )
    assert created.status == 201, created.content
    product_id = created.json()["id"]
    assert server.get(f"/products/{product_id}").json()["sku"] == "SRV-1"
    assert server.patch(f"/products/{product_id}", {"stock": 9}).json()["stock"] == 9
    listed = server.get("/products/?pagination=offset&limit=20")
    assert listed.json()["totalCount"] == 1
    missing = server.get("/products/999999", headers={"X-Request-ID": "srv-trace"})
    assert missing.status == 404
    assert missing.headers["x-request-id"] == "srv-trace"
    assert missing.json()["detail"]["trace_id"] == "srv-trace"
    assert server.delete(f"/products/{product_id}").content == b"true"


@pytest.mark.parametrize("kind", ["uvicorn", "gunicorn", "runserver"])
def test_example_project_serves_crud(kind):
    with example_database() as url:
        migrate(url)
        with run_server(kind, url) as server:
            _round_trip(server)


def test_async_handlers_under_uvicorn(monkeypatch):
    monkeypatch.setenv("LOOM_REST_HANDLER_MODE", "async")
    with example_database() as url:
        migrate(url)
        with run_server("uvicorn", url) as server:
            _round_trip(server)
            schema = server.get("/openapi.json").json()
            assert "/api/products/{id}" in schema["paths"]


@pytest.mark.postgres
def test_uvicorn_on_postgresql_reuses_pooled_connections():
    """The example project pools PostgreSQL connections under ASGI: 30 requests open no
    connection of their own and leave every pooled one idle (returned) afterwards."""
    import os

    import psycopg

    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("needs DATABASE_URL=postgres://...")
    with example_database() as url:
        migrate(url)
        name = url.rpartition("/")[2]
        admin = url.rpartition("/")[0].replace("postgres://", "postgresql://") + "/postgres"
        with run_server("uvicorn", url) as server:
            for index in range(30):
                assert server.get(f"/products/?limit=1&page={index + 1}").status == 200
            with psycopg.connect(admin, autocommit=True) as connection:
                states = [
                    row[0]
                    for row in connection.execute(
                        "SELECT state FROM pg_stat_activity WHERE datname = %s", [name]
                    )
                ]
    assert 1 <= len(states) <= 4  # psycopg_pool's default size, not one per request
    assert set(states) == {"idle"}
