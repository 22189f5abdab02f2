"""``loom_django.asgi``: loom routes under ASGI cost one thread hop per request."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import SyncToAsync, iscoroutinefunction, sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.core import checks
from django.core.handlers.asgi import ASGIHandler
from django.db import connection, connections
from django.test import AsyncRequestFactory
from django.urls import resolve
from ninja.security import HttpBearer

from loom_django.asgi import LoomASGIHandler, get_asgi_application
from loom_django.orm import django_model_for
from loom_django.rest.autocrud import build_auto_routes
from loom_django.rest.config import RestConfig
from loom_django.rest.model import RestInterface
from loom_django.rest.serving_checks import W520, check_asgi_pool
from tests.restapp.models import RestProduct

NEW = {"sku": "ASGI-1", "name": "a", "price_cents": 5, "stock": 2}


class Hops:
    """Counts ``sync_to_async`` calls (thread hops) and the threads the DB work ran on."""

    def __init__(self) -> None:
        self.count = 0
        self.db_threads: set[int] = set()


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hops]:
    counter = Hops()
    original = SyncToAsync.__call__

    async def counting(self: SyncToAsync, *args: Any, **kwargs: Any) -> Any:
        counter.count += 1
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counting)

    def record_thread(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        counter.db_threads.add(threading.get_ident())
        return execute(sql, params, many, context)

    from django.db.backends.signals import connection_created

    def wrap(sender: Any, connection: Any, **kwargs: Any) -> None:
        connection.execute_wrappers.append(record_thread)

    connection_created.connect(wrap)
    yield counter
    connection_created.disconnect(wrap)


def request(
    app: Any, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request through the ASGI ``app``; returns status, headers and body."""
    raw = json.dumps(body).encode() if body is not None else b""
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def exchange() -> tuple[int, dict[str, str], bytes]:
        communicator = ApplicationCommunicator(app, scope)
        await communicator.send_input({"type": "http.request", "body": raw})
        start = await communicator.receive_output(10)
        content = b""
        while True:
            message = await communicator.receive_output(10)
            content += message.get("body", b"")
            if not message.get("more_body"):
                break
        await communicator.wait(10)
        headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        return start["status"], headers, content

    return asyncio.run(exchange())


@pytest.fixture
def app() -> LoomASGIHandler:
    return get_asgi_application()


@pytest.mark.django_db(transaction=True)
def test_a_loom_route_costs_one_thread_hop(app: LoomASGIHandler, hops: Hops) -> None:
    status, _, content = request(app, "POST", "/products/", NEW)
    assert status == 201, content
    hops.count = 0
    status, _, content = request(app, "GET", f"/products/{json.loads(content)['id']}")
    assert status == 200 and json.loads(content)["sku"] == "ASGI-1"
    assert hops.count == 1


@pytest.mark.django_db(transaction=True)
def test_a_write_costs_one_thread_hop(app: LoomASGIHandler, hops: Hops) -> None:
    status, _, content = request(app, "POST", "/products/", NEW)
    assert status == 201, content
    assert hops.count == 1


@pytest.mark.django_db(transaction=True)
def test_the_request_runs_its_queries_on_one_thread_that_is_not_the_loops(
    app: LoomASGIHandler, hops: Hops
) -> None:
    status, _, _ = request(app, "GET", "/products/?limit=5")
    assert status == 200
    assert len(hops.db_threads) == 1
    assert threading.get_ident() not in hops.db_threads


@pytest.mark.django_db(transaction=True)
def test_djangos_own_asgi_handler_hops_per_middleware(hops: Hops) -> None:
    """The cost the loom handler removes: Django's handler hops per middleware hook."""
    status, _, _ = request(ASGIHandler(), "GET", "/products/?limit=5")
    assert status == 200
    assert hops.count > 5


@pytest.mark.django_db(transaction=True)
def test_async_views_keep_djangos_async_path(app: LoomASGIHandler) -> None:
    status, _, content = request(app, "POST", "/async-products/", NEW)
    assert status == 201, content
    assert app.view_is_async({"path": "/async-products/"})
    assert not app.view_is_async({"path": "/products/"})


@pytest.mark.django_db(transaction=True)
def test_unknown_paths_answer_the_loom_404(app: LoomASGIHandler) -> None:
    status, _, content = request(app, "GET", "/no-such-thing/at/all")
    assert status == 404


@pytest.mark.django_db(transaction=True)
def test_the_middleware_runs_in_sync_mode(app: LoomASGIHandler) -> None:
    status, headers, _ = request(app, "GET", "/products/?limit=1")
    assert status == 200
    assert headers["x-request-id"]


@pytest.mark.django_db(transaction=True)
def test_the_request_finished_signal_closes_the_connection(app: LoomASGIHandler) -> None:
    from django.core.signals import request_finished

    seen: list[bool] = []

    def receiver(**kwargs: Any) -> None:
        seen.append(connection.connection is not None)

    request_finished.connect(receiver)
    try:
        status, _, _ = request(app, "GET", "/products/?limit=1")
    finally:
        request_finished.disconnect(receiver)
    assert status == 200
    assert seen == [True]


# -- async views (handler_mode: async) cross into a thread once too -----------------------


class AsyncTokenAuth(HttpBearer):
    """Bearer auth whose ``authenticate`` is a coroutine (runs on the event loop)."""

    async def authenticate(self, request: Any, token: str) -> str | None:
        return token if token == "good-token" else None


class AsyncAuthProductInterface(RestInterface[RestProduct]):
    prefix = "/async-auth-products"
    auth = AsyncTokenAuth()
    routes = build_auto_routes(RestProduct, ("get",))


def call_view(path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """Resolve ``path`` and await its (async) view directly: only the view's hops count."""
    view = resolve(path).func
    assert iscoroutinefunction(view)
    request = AsyncRequestFactory().get(path, headers=headers)

    async def run() -> tuple[int, bytes]:
        try:
            response = await view(request, **resolve(path).kwargs)
            return response.status_code, response.content
        finally:
            await sync_to_async(connections.close_all)()

    return asyncio.run(run())


@pytest.fixture
def product_id() -> int:
    model = django_model_for(RestProduct)
    return int(model.objects.create(sku="H-1", name="h", price_cents=1, stock=1).pk)


@pytest.mark.django_db(transaction=True)
def test_an_async_route_without_checks_hops_once(hops: Hops, product_id: int) -> None:
    status, content = call_view(f"/async-products/{product_id}", {})
    assert status == 200, content
    assert hops.count == 2  # the view's one hop, then the test's close_all


@pytest.mark.django_db(transaction=True)
def test_an_async_route_with_sync_auth_and_permissions_hops_once(
    serve: Any, hops: Hops
) -> None:
    from tests.restapp.interfaces import SecureProductInterface

    serve([SecureProductInterface], RestConfig(handler_mode="async"))
    status, content = call_view(
        "/secure-products/", {"Authorization": "Bearer good-token", "X-Allowed": "yes"}
    )
    assert status == 200, content
    assert hops.count == 2


@pytest.mark.django_db(transaction=True)
def test_an_async_route_with_async_auth_hops_once(
    serve: Any, hops: Hops, product_id: int
) -> None:
    serve([AsyncAuthProductInterface], RestConfig(handler_mode="async"))
    path = f"/async-auth-products/{product_id}"
    status, content = call_view(path, {"Authorization": "Bearer good-token"})
    assert status == 200, content
    assert hops.count == 2
    denied, _ = call_view(path, {"Authorization": "Bearer bad"})
    assert denied == 401
    assert hops.count == 3  # refused on the loop: only close_all hopped


# -- loom_django.W520: ASGI on PostgreSQL without a pool -----------------------------------

PG = {"ENGINE": "django.db.backends.postgresql", "NAME": "store", "OPTIONS": {}}


def test_w520_warns_for_an_unpooled_postgresql_database_under_asgi(settings: Any) -> None:
    settings.ASGI_APPLICATION = "config.asgi.application"
    settings.DATABASES = {"default": PG}
    messages = check_asgi_pool()
    assert [(m.id, m.obj) for m in messages] == [(W520, "default")]


def test_w520_accepts_a_pooled_database(settings: Any) -> None:
    settings.ASGI_APPLICATION = "config.asgi.application"
    settings.DATABASES = {"default": {**PG, "OPTIONS": {"pool": {"max_size": 8}}}}
    assert check_asgi_pool() == []


def test_w520_is_quiet_without_asgi_application(settings: Any) -> None:
    settings.ASGI_APPLICATION = None
    settings.DATABASES = {"default": PG}
    assert check_asgi_pool() == []


def test_w520_ignores_other_databases(settings: Any) -> None:
    settings.ASGI_APPLICATION = "config.asgi.application"
    settings.DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    assert check_asgi_pool() == []


def test_w520_is_a_deploy_check() -> None:
    deploy = checks.registry.registry.get_checks(include_deployment_checks=True)
    plain = checks.registry.registry.get_checks(include_deployment_checks=False)
    assert check_asgi_pool in deploy and check_asgi_pool not in plain
