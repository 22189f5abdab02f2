"""``loom_django.asgi``: loom routes under ASGI cost one thread hop per request."""

from __future__ import annotations

import asyncio
import json
import threading
import types
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import SyncToAsync, iscoroutinefunction, sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.core import checks
from django.core.handlers.asgi import ASGIHandler
from django.db import connection, connections
from django.http import StreamingHttpResponse
from django.test import AsyncRequestFactory
from django.urls import path, resolve
from ninja.security import HttpBearer

from loom_django.asgi import LoomASGIHandler, get_asgi_application
from loom_django.orm import django_model_for
from loom_django.rest.autocrud import build_auto_routes
from loom_django.rest.config import RestConfig
from loom_django.rest.model import RestInterface
from loom_django.rest.serving_checks import W520, check_asgi_pool, unpooled_under_asgi
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
    return asyncio.run(exchange(app, method, path, body))


async def exchange(
    app: Any, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request through the ASGI ``app`` on the running loop."""
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
def test_the_requests_connection_is_closed_when_it_ends(app: LoomASGIHandler) -> None:
    """CONN_MAX_AGE = 0 (as with a pool): ``request_finished`` closes the request's
    connection, which a pool takes back."""
    if connection.vendor == "sqlite":
        pytest.skip("an in-memory SQLite test database is never closed")
    from django.db.backends.signals import connection_created

    opened: list[Any] = []

    def record(sender: Any, connection: Any, **kwargs: Any) -> None:
        opened.append(connection)

    connection_created.connect(record)
    try:
        status, _, _ = request(app, "GET", "/products/?limit=1")
    finally:
        connection_created.disconnect(record)
    assert status == 200
    assert len(opened) == 1 and opened[0].connection is None


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
def test_an_async_route_with_sync_auth_and_permissions_hops_once(serve: Any, hops: Hops) -> None:
    from tests.restapp.interfaces import SecureProductInterface

    serve([SecureProductInterface], RestConfig(handler_mode="async"))
    status, content = call_view(
        "/secure-products/", {"Authorization": "Bearer good-token", "X-Allowed": "yes"}
    )
    assert status == 200, content
    assert hops.count == 2


@pytest.mark.django_db(transaction=True)
def test_an_async_route_with_async_auth_hops_once(serve: Any, hops: Hops, product_id: int) -> None:
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
ASGI_APP = "config.asgi.application"


def test_w520_names_an_unpooled_postgresql_database_under_asgi() -> None:
    assert unpooled_under_asgi(ASGI_APP, {"default": PG, "other": PG}) == ["default", "other"]


def test_w520_accepts_a_pooled_database() -> None:
    pooled = {**PG, "OPTIONS": {"pool": {"max_size": 8}}}
    assert unpooled_under_asgi(ASGI_APP, {"default": pooled}) == []


def test_w520_is_quiet_without_asgi_application() -> None:
    assert unpooled_under_asgi(None, {"default": PG}) == []


def test_w520_ignores_other_databases() -> None:
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
    assert unpooled_under_asgi(ASGI_APP, {"default": sqlite}) == []


def test_w520_warns_with_the_alias_and_its_id(settings: Any) -> None:
    settings.ASGI_APPLICATION = ASGI_APP
    expected = unpooled_under_asgi(ASGI_APP, settings.DATABASES)
    assert [(m.id, m.obj) for m in check_asgi_pool()] == [(W520, a) for a in expected]


def test_w520_is_a_deploy_check() -> None:
    deploy = checks.registry.registry.get_checks(include_deployment_checks=True)
    plain = checks.registry.registry.get_checks(include_deployment_checks=False)
    assert check_asgi_pool in deploy and check_asgi_pool not in plain


def _stream_view(request: Any) -> StreamingHttpResponse:
    return StreamingHttpResponse(chunk for chunk in (b"one,", b"two,", b"three"))


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous")
@pytest.mark.django_db(transaction=True)
def test_a_streaming_response_is_sent_whole_and_then_closed(settings: Any) -> None:
    from django.core.signals import request_finished

    module = types.ModuleType("asgi_stream_urls")
    module.urlpatterns = [path("stream/", _stream_view)]  # type: ignore[attr-defined]
    settings.ROOT_URLCONF = module
    finished: list[bool] = []

    def receiver(**kwargs: Any) -> None:
        finished.append(True)

    request_finished.connect(receiver)
    try:
        status, _, content = request(get_asgi_application(), "GET", "/stream/")
    finally:
        request_finished.disconnect(receiver)
    assert (status, content) == (200, b"one,two,three")
    assert finished == [True]


@pytest.mark.django_db(transaction=True)
def test_requests_beyond_the_thread_count_wait_for_a_free_thread() -> None:
    """``threads=1``: two concurrent requests never run their views at the same time."""
    app = get_asgi_application(threads=1)
    running: list[int] = []
    overlap: list[int] = []
    original = app.sync_response

    def tracked(request: Any) -> Any:
        running.append(1)
        overlap.append(len(running))
        try:
            return original(request)
        finally:
            running.pop()

    app.sync_response = tracked  # type: ignore[method-assign]

    async def both() -> list[Any]:
        return await asyncio.gather(
            exchange(app, "GET", "/products/?limit=1"), exchange(app, "GET", "/products/?limit=2")
        )

    replies = asyncio.run(both())
    assert [status for status, _, _ in replies] == [200, 200]
    assert overlap == [1, 1]


def test_the_web_serving_examples_of_deployment_md_run() -> None:
    """docs/deployment.md#web-serving: its Python blocks run as written."""
    from tests.docs.blocks import blocks

    examples = [b.text for b in blocks("deployment.md") if b.lang == "python" and "loom_" in b.text]
    namespaces: list[dict[str, Any]] = [{}, {}]
    assert len(examples) == len(namespaces)
    for text, namespace in zip(examples, namespaces, strict=True):
        exec(compile(text, "deployment.md", "exec"), namespace)
    assert isinstance(namespaces[0]["application"], LoomASGIHandler)
    assert namespaces[1]["DATABASES"]["default"]["OPTIONS"]["pool"]["max_size"] == 4
