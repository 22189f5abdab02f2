"""Job options, startup compilation, task names and configuration (AC 1, 2, 4, 24, 25)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from loom_django.celery import CeleryJobService, DuplicateTaskNameError, TaskCatalog
from loom_django.celery.config import select_backend
from loom_django.core.bootstrap import RuntimeSpec, build_runtime
from loom_django.core.command import Command
from loom_django.core.errors import BootstrapError
from loom_django.core.job.job import Job
from loom_django.core.job.service import InlineJobService
from loom_django.core.use_case import F, Input, LoadById, Rule
from loom_django.runtime import build_django_runtime, reset_runtime
from tests.jobs.support import published
from tests.jobsapp.callbacks import RecordingCallback
from tests.jobsapp.jobs import RestockEmailJob
from tests.testapp.models import Product


class PlainJob(Job[None]):
    def execute(self) -> None:
        return None


class QueuedJob(Job[None]):
    __queue__ = "erp"

    def execute(self) -> None:
        return None


def test_job_defaults_and_overrides_touch_only_the_subclass():
    assert PlainJob.__queue__ == "default"
    assert PlainJob.__retries__ == 0
    assert PlainJob.__countdown__ == 0
    assert PlainJob.__timeout__ is None
    assert PlainJob.__priority__ == 0
    assert QueuedJob.__queue__ == "erp"
    assert Job.__queue__ == "default"


class Email(Command, frozen=True):
    recipient_email: str


def _not_an_email(value: str) -> bool:
    return "@" not in value


class CompilesJob(Job[bool]):
    rules = (Rule.check(F(Email).recipient_email, via=_not_an_email, message="not an email"),)

    async def execute(
        self,
        product_id: int,
        cmd: Email = Input(),
        product: Product = LoadById(Product, by="product_id"),
    ) -> bool:
        return True


class BrokenJob(Job[bool]):
    async def execute(
        self, product_id: int, product: Product = LoadById(Product, by="nonexistent")
    ) -> bool:
        return True


def test_jobs_compile_at_startup():
    runtime = build_runtime(RuntimeSpec(jobs=[CompilesJob]))
    assert CompilesJob in runtime.compiler._plans


def test_a_job_with_an_unknown_load_source_fails_startup():
    with pytest.raises(BootstrapError, match="'nonexistent' not found in execute signature"):
        build_runtime(RuntimeSpec(jobs=[BrokenJob]))


def _twin(module: str) -> type[Any]:
    cls = type("TwinJob", (Job,), {"execute": lambda self: None, "__module__": module})
    return cls


def test_two_jobs_with_one_task_name_are_rejected():
    first, second = _twin("shop.jobs"), _twin("billing.jobs")
    with pytest.raises(DuplicateTaskNameError, match="loom.job.TwinJob") as info:
        TaskCatalog.build([first, second], [])
    assert "shop.jobs.TwinJob" in str(info.value)
    assert "billing.jobs.TwinJob" in str(info.value)
    explicit = type(
        "TwinJob",
        (Job,),
        {"execute": lambda self: None, "__module__": "erp.jobs", "__task_name__": "erp.twin"},
    )
    assert set(TaskCatalog.build([first, explicit], []).jobs) == {"loom.job.TwinJob", "erp.twin"}


def test_duplicate_task_names_fail_the_django_startup(celery_settings, monkeypatch):
    from loom_django.core import discovery

    real = discovery.discover

    def with_twins(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        return type(found)(
            **{**found.__dict__, "jobs": (*found.jobs, _twin("a.jobs"), _twin("b.jobs"))}
        )

    monkeypatch.setattr(discovery, "discover", with_twins)
    with pytest.raises(BootstrapError, match="Duplicate Celery task name 'loom.job.TwinJob'"):
        build_django_runtime()


def test_callback_task_names():
    catalog = TaskCatalog.build([], [RecordingCallback])
    assert set(catalog.names()) == {
        "loom.callback.RecordingCallback",
        "loom.callback_error.RecordingCallback",
    }


def test_yaml_default_queue_must_be_declared(celery_settings):
    celery_settings.LOOM = {
        "CONFIG": {
            "celery": {
                "broker_url": "memory://",
                "queues": ["default", "notifications"],
                "task_default_queue": "other",
            }
        }
    }
    with pytest.raises(BootstrapError, match="is not declared in queues") as info:
        build_django_runtime()
    assert isinstance(info.value.__cause__, ValueError)


def test_yaml_celery_section_fills_only_undefined_settings(settings, caplog):
    for name in ("CELERY_BROKER_URL", "CELERY_TASK_DEFAULT_QUEUE", "CELERY_WORKER_CONCURRENCY"):
        if hasattr(settings, name):
            delattr(settings, name)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.LOOM = {
        "CONFIG": {
            "celery": {
                "broker_url": "memory://",
                "task_always_eager": True,
                "worker_concurrency": 3,
                "queues": ["default", "erp"],
            }
        }
    }
    from django.conf import settings as live

    try:
        runtime = build_django_runtime()
        assert isinstance(runtime.job_service, CeleryJobService)
        assert live.CELERY_BROKER_URL == "memory://"
        assert live.CELERY_WORKER_CONCURRENCY == 3
        assert [q.name for q in live.CELERY_TASK_QUEUES] == ["default", "erp"]
        assert live.CELERY_TASK_ALWAYS_EAGER is False
        assert "CELERY_TASK_ALWAYS_EAGER=False wins over the YAML celery section" in caplog.text
    finally:
        for name in ("CELERY_BROKER_URL", "CELERY_WORKER_CONCURRENCY", "CELERY_TASK_QUEUES"):
            if hasattr(live, name):
                delattr(live, name)
        reset_runtime(None)


@pytest.mark.parametrize(
    ("config", "broker", "expected"),
    [
        ({}, None, "inline"),
        ({}, "redis://localhost:6379/1", "celery"),
        ({"app": {"jobs": {"backend": "inline"}}}, "redis://localhost:6379/1", "inline"),
        ({"app": {"jobs": {"backend": "celery"}}}, None, "celery"),
        ({"celery": {"broker_url": "memory://"}}, None, "celery"),
    ],
)
def test_backend_selection(config, broker, expected):
    class Settings:
        pass

    settings = Settings()
    if broker:
        settings.CELERY_BROKER_URL = broker  # type: ignore[attr-defined]
    assert select_backend(config, settings) == expected


def test_the_django_runtime_binds_the_selected_service(settings):
    if hasattr(settings, "CELERY_BROKER_URL"):
        del settings.CELERY_BROKER_URL
    try:
        assert isinstance(build_django_runtime().job_service, InlineJobService)
        settings.CELERY_BROKER_URL = "memory://"
        assert isinstance(build_django_runtime().job_service, CeleryJobService)
    finally:
        reset_runtime(None)


@pytest.mark.django_db(transaction=True)
def test_yaml_job_overrides_route_handle_and_message(memory_broker, monkeypatch, settings):
    monkeypatch.setattr(RestockEmailJob, "__queue__", RestockEmailJob.__queue__)
    settings.LOOM = {"CONFIG": {"jobs": {"RestockEmailJob": {"queue": "priority"}}}}
    runtime = build_django_runtime()
    reset_runtime(runtime)
    with published() as messages:
        handle = runtime.job_service.dispatch(
            RestockEmailJob, params={"product_id": 1}, payload={"recipient_email": "a@b.c"}
        )
    assert handle.queue == "priority"
    assert [m["routing_key"] for m in messages] == ["priority"]
    assert str(uuid.UUID(handle.job_id, version=4)) == handle.job_id
