"""Fixtures of the Celery door tests: an eager Celery runtime and event recording."""

from __future__ import annotations

import itertools
import types
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from celery import Celery
from django.test import Client
from django.urls import clear_url_caches, path

from loom_django.celery import CeleryJobService, bind_celery_app
from loom_django.core.bootstrap import LoomRuntime
from loom_django.core.engine.events import RuntimeEvent
from tests.jobs.support import build_celery_runtime
from tests.jobs.workers import Broker, Worker, worker


@dataclass
class Recorder:
    """A MetricsAdapter keeping every event."""

    events: list[RuntimeEvent] = field(default_factory=list)

    def on_event(self, event: RuntimeEvent) -> None:
        self.events.append(event)

    def kinds(self, name: str | None = None) -> list[str]:
        return [
            str(e.kind)
            for e in self.events
            if (name is None or e.use_case_name == name) and not e.kind.startswith("compile")
        ]


@dataclass
class CeleryRuntime:
    runtime: LoomRuntime
    app: Celery
    events: Recorder

    @property
    def service(self) -> CeleryJobService:
        service = self.runtime.job_service
        assert isinstance(service, CeleryJobService)
        return service


EAGER_SETTINGS: dict[str, Any] = {
    "CELERY_BROKER_URL": "memory://",
    "CELERY_RESULT_BACKEND": "django-db",
    "CELERY_RESULT_EXTENDED": True,
    "CELERY_TASK_TRACK_STARTED": True,
    "CELERY_TASK_ALWAYS_EAGER": True,
    "CELERY_TASK_STORE_EAGER_RESULT": True,
    "CELERY_TASK_EAGER_PROPAGATES": False,
    "CELERY_TASK_DEFAULT_QUEUE": "default",
}


@pytest.fixture
def celery_settings(settings: Any) -> Any:
    """Django settings of an eager Celery project (results in the Django database)."""
    for name, value in EAGER_SETTINGS.items():
        setattr(settings, name, value)
    return settings


@contextmanager
def celery_runtime(settings: Any) -> Iterator[CeleryRuntime]:
    """Rebuild the process runtime on Celery (per ``settings``) for the block."""
    recorder = Recorder()
    runtime = build_celery_runtime(metrics=recorder)
    app = Celery("loom-tests", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    bind_celery_app(app)
    try:
        yield CeleryRuntime(runtime, app, recorder)
    finally:
        bind_celery_app(None)
        from loom_django.runtime import reset_runtime

        reset_runtime(None)


@pytest.fixture
def eager(celery_settings: Any) -> Iterator[CeleryRuntime]:
    """The process runtime rebuilt with CeleryJobService on an eager Celery app."""
    with celery_runtime(celery_settings) as runtime:
        yield runtime


@pytest.fixture
def memory_broker(settings: Any) -> Iterator[CeleryRuntime]:
    """A non-eager Celery runtime on kombu's in-memory transport (messages are inspectable)."""
    for name, value in EAGER_SETTINGS.items():
        setattr(settings, name, value)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with celery_runtime(settings) as runtime:
        yield runtime


MIDDLEWARE = [
    "loom_django.middleware.TraceIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
_names = itertools.count()


@pytest.fixture
def serve(settings: Any) -> Iterator[Callable[[Any], Client]]:
    """Serve the jobs test routes (plus the job status route) of ``runtime`` at the root."""

    def build(runtime: Any) -> Client:
        from loom_django.rest.config import RestConfig
        from loom_django.rest.ninja import create_api
        from tests.jobsapp.routes import JobsTestInterface

        api = create_api(
            interfaces=[JobsTestInterface],
            runtime=runtime,
            config=RestConfig(),
            urls_namespace=f"loom-jobs-test-{next(_names)}",
        )
        module = types.ModuleType(f"jobs_test_urls_{next(_names)}")
        module.urlpatterns = [path("", api.urls)]  # type: ignore[attr-defined]
        settings.ROOT_URLCONF = module
        settings.MIDDLEWARE = MIDDLEWARE
        clear_url_caches()
        return Client(raise_request_exception=False)

    yield build
    clear_url_caches()


# -- real workers -------------------------------------------------------------------------

REDIS_URL = "redis://127.0.0.1:6379/13"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"


@pytest.fixture(scope="session")
def redis_broker() -> Iterator[Broker]:
    """Redis DB 13 with a key prefix unique to this run (concurrent runs never collide)."""
    prefix = f"loomtest-{uuid.uuid4().hex[:10]}:"
    yield Broker(REDIS_URL, {"global_keyprefix": prefix})
    forget_redis_prefix(prefix)


def forget_redis_prefix(prefix: str) -> None:
    """Delete every key a run created under ``prefix``."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="session")
def test_db_name(django_db_setup: Any, django_db_blocker: Any) -> str:
    """The name of this run's test database (what the workers connect to)."""
    from django.db import connection

    with django_db_blocker.unblock():
        name: str = connection.settings_dict["NAME"]
    return name


@pytest.fixture(scope="session")
def redis_worker(
    tmp_path_factory: pytest.TempPathFactory, test_db_name: str, redis_broker: Broker
) -> Iterator[Worker]:
    """One prefork worker on Redis consuming every queue, shared by the Redis tests."""
    with worker(
        tmp_path_factory.mktemp("redis-worker"), db_name=test_db_name, broker=redis_broker
    ) as running:
        yield running


@contextmanager
def broker_runtime(settings: Any, broker: Broker) -> Iterator[CeleryRuntime]:
    """The test process's runtime dispatching through ``broker`` (not eager)."""
    settings.CELERY_BROKER_URL = broker.url
    settings.CELERY_RESULT_BACKEND = "django-db"
    settings.CELERY_RESULT_EXTENDED = True
    settings.CELERY_TASK_TRACK_STARTED = True
    settings.CELERY_TASK_ALWAYS_EAGER = False
    recorder = Recorder()
    runtime = build_celery_runtime(metrics=recorder)
    app = broker.app()
    bind_celery_app(app)
    try:
        yield CeleryRuntime(runtime, app, recorder)
    finally:
        bind_celery_app(None)
        from loom_django.runtime import reset_runtime

        reset_runtime(None)


@pytest.fixture
def on_redis(settings: Any, redis_broker: Broker, redis_worker: Worker) -> Iterator[CeleryRuntime]:
    """Dispatch through Redis to the shared worker."""
    with broker_runtime(settings, redis_broker) as runtime:
        yield runtime
