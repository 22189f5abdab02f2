"""Helpers of the Celery door tests: runtimes, published-message capture, polling."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from celery import signals

from loom_django.core.bootstrap import LoomRuntime, RuntimeSpec, build_runtime
from loom_django.core.engine.events import MetricsAdapter


def build_celery_runtime(*, metrics: MetricsAdapter | None = None) -> LoomRuntime:
    """The Django runtime (discovery, ORM, Celery hooks) with ``metrics``; made current."""
    from asgiref.sync import sync_to_async
    from django.apps import apps

    from loom_django.celery.integration import configure_runtime_spec as celery_spec
    from loom_django.conf import conf
    from loom_django.core.discovery import discover
    from loom_django.core.model.hooks import mapped_models
    from loom_django.orm.integration import configure_runtime_spec as orm_spec
    from loom_django.runtime import reset_runtime

    found = discover({"mode": "apps"}, app_modules=[a.name for a in apps.get_app_configs()])
    spec = RuntimeSpec(
        models=[*mapped_models(), *found.models],
        use_cases=found.use_cases,
        jobs=found.jobs,
        callbacks=found.callbacks,
        metrics=metrics,
        config=conf.config_context(),
        offload=lambda fn: sync_to_async(fn, thread_sensitive=True),
    )
    orm_spec(spec)
    celery_spec(spec)
    runtime = build_runtime(spec)
    runtime.discovery = found
    reset_runtime(runtime)
    return runtime


@contextmanager
def published() -> Iterator[list[dict[str, Any]]]:
    """Record every message Celery publishes in the block (name, id, kwargs, routing)."""
    seen: list[dict[str, Any]] = []

    def record(sender: Any = None, headers: Any = None, body: Any = None, **kw: Any) -> None:
        args, kwargs, embed = body
        seen.append(
            {
                "task": headers["task"],
                "id": headers["id"],
                "kwargs": kwargs,
                "routing_key": kw.get("routing_key"),
                "exchange": kw.get("exchange"),
                "embed": embed,
                "headers": headers,
            }
        )

    signals.before_task_publish.connect(record, weak=False)
    try:
        yield seen
    finally:
        signals.before_task_publish.disconnect(record)


def wait_for(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        time.sleep(interval)
