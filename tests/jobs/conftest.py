"""Fixtures of the Celery door tests: an eager Celery runtime and event recording."""

from __future__ import annotations

import itertools
import types
from collections.abc import Callable, Iterator
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


def _runtime(settings: Any) -> Iterator[CeleryRuntime]:
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
    yield from _runtime(celery_settings)


@pytest.fixture
def memory_broker(settings: Any) -> Iterator[CeleryRuntime]:
    """A non-eager Celery runtime on kombu's in-memory transport (messages are inspectable)."""
    for name, value in EAGER_SETTINGS.items():
        setattr(settings, name, value)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    yield from _runtime(settings)


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
