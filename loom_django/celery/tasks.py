"""The Celery tasks that run jobs and their callbacks, and their registration on an app.

One task per job (``loom.job.<qualname>``) and two per callback class
(``loom.callback.<qualname>``, ``loom.callback_error.<qualname>``). Task bodies look the
runtime up when they run, so tasks registered before the runtime exists still work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

from celery import Celery, Task, states

from loom_django.celery.appref import running_task_app
from loom_django.celery.names import TaskCatalog
from loom_django.celery.results import describe_exception
from loom_django.celery.timelimit import time_limit
from loom_django.core.job.lifecycle import run_attempt
from loom_django.core.job.service import result_to_builtins, run_callback
from loom_django.core.tracing import reset_trace_id, set_trace_id

if TYPE_CHECKING:
    from loom_django.core.bootstrap import LoomRuntime
    from loom_django.core.engine.executor import RuntimeExecutor
    from loom_django.core.use_case.factory import UseCaseFactory

__all__ = [
    "JOB_TASK_OPTIONS",
    "RuntimeProvider",
    "execute_job",
    "install_tasks",
    "invoke_failure_callback",
    "invoke_success_callback",
    "pop_eager_failure",
    "register_tasks",
    "task_context",
    "task_definitions",
]

RuntimeProvider = Callable[[], "LoomRuntime"]
"""Returns the runtime whose factory and executor a task uses (looked up per run)."""

JOB_TASK_OPTIONS: dict[str, Any] = {"acks_late": True, "reject_on_worker_lost": True}
"""Options of every loom task: ack after the work, requeue if the worker dies."""

_log = logging.getLogger("loom_django.jobs")
_eager_failures: dict[str, BaseException] = {}


def pop_eager_failure(job_id: str) -> BaseException | None:
    """The exception that ended an eagerly applied job, exactly as raised (then forgotten)."""
    return _eager_failures.pop(job_id, None)


@contextmanager
def task_context(app: Celery, trace_id: str | None) -> Iterator[None]:
    """Within the block: the message's trace id is current and dispatches use ``app``."""
    token = set_trace_id(trace_id)
    try:
        with running_task_app(app):
            yield
    finally:
        reset_trace_id(token)


def execute_job(
    task: Task,
    job_type: type[Any],
    runtime: LoomRuntime,
    *,
    payload: dict[str, Any] | None,
    params: dict[str, Any] | None,
    trace_id: str | None,
) -> Any:
    """Run one attempt of ``job_type`` (core's ``run_attempt``); retry or fail per its options.

    Returns the JSON-compatible form of the job's result. A ``DomainError`` or the last
    allowed attempt re-raises the exception (the task fails, ``on_failure`` fires);
    otherwise ``task.retry`` schedules the next attempt after ``__backoff__ ** retries`` s.
    """
    job_id = task.request.id
    retries = task.request.retries or 0
    with task_context(task.app, trace_id):
        outcome = run_attempt(
            job_type,
            runtime.factory,
            runtime.executor,
            job_id=job_id,
            params=params,
            payload=payload,
            trace_id=trace_id,
            retries=retries,
            guard=partial(time_limit, job_type.__timeout__),
        )
    exc = outcome.error
    if exc is None:
        return result_to_builtins(outcome.result)
    if outcome.retry_in is None:
        if task.request.is_eager and job_id is not None:
            _eager_failures[job_id] = exc
        raise exc
    raise task.retry(
        exc=exc, countdown=job_type.__backoff__**retries, max_retries=job_type.__retries__
    ) from exc


def invoke_success_callback(
    factory: UseCaseFactory,
    executor: RuntimeExecutor,
    callback_type: type[Any],
    *,
    job_id: str,
    result: Any,
    context: dict[str, Any] | None,
) -> None:
    """Build ``callback_type`` through DI and run ``on_success`` in one unit of work."""
    run_callback(
        factory,
        executor,
        callback_type,
        "on_success",
        job_id=job_id,
        result=result,
        **(context or {}),
    )


def invoke_failure_callback(
    factory: UseCaseFactory,
    executor: RuntimeExecutor,
    callback_type: type[Any],
    *,
    job_id: str,
    exc_type: str,
    exc_msg: str,
    context: dict[str, Any] | None,
) -> None:
    """Build ``callback_type`` through DI and run ``on_failure`` in one unit of work."""
    run_callback(
        factory,
        executor,
        callback_type,
        "on_failure",
        job_id=job_id,
        exc_type=exc_type,
        exc_msg=exc_msg,
        **(context or {}),
    )


def _job_task(job_type: type[Any], provider: RuntimeProvider) -> Callable[..., Any]:
    def run_job(
        self: Task,
        payload: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        trace_id: str | None = None,
    ) -> Any:
        return execute_job(
            self, job_type, provider(), payload=payload, params=params, trace_id=trace_id
        )

    run_job.__qualname__ = run_job.__name__ = f"run_{job_type.__name__}"
    return run_job


def _success_task(callback_type: type[Any], provider: RuntimeProvider) -> Callable[..., Any]:
    def on_success(
        self: Task,
        result: Any = None,
        *,
        job_id: str,
        context: dict[str, Any] | None = None,
        trace_id: str | None = None,
    ) -> None:
        with task_context(self.app, trace_id):
            if _already_succeeded(self):
                _log.info("success callback of job %s already ran; skipped", job_id)
                return
            runtime = provider()
            invoke_success_callback(
                runtime.factory,
                runtime.executor,
                callback_type,
                job_id=job_id,
                result=result,
                context=context,
            )

    on_success.__qualname__ = on_success.__name__ = f"{callback_type.__name__}_on_success"
    return on_success


def _failure_task(
    callback_type: type[Any], provider: RuntimeProvider, app: Celery
) -> Callable[..., Any]:
    # Not bound and taking (request, exc, traceback): Celery then calls it in the worker
    # with the exception object itself, so exc_type/exc_msg never depend on the backend.
    def on_failure(
        request: Any = None,
        exc: BaseException | None = None,
        traceback: Any = None,
        *,
        job_id: str,
        context: dict[str, Any] | None = None,
        trace_id: str | None = None,
        exc_type: str | None = None,
        exc_msg: str | None = None,
    ) -> None:
        if isinstance(exc, BaseException):
            exc_type, exc_msg = describe_exception(exc)
        with task_context(app, trace_id):
            runtime = provider()
            invoke_failure_callback(
                runtime.factory,
                runtime.executor,
                callback_type,
                job_id=job_id,
                exc_type=exc_type or "Unknown",
                exc_msg=exc_msg or "",
                context=context,
            )

    on_failure.__qualname__ = on_failure.__name__ = f"{callback_type.__name__}_on_failure"
    return on_failure


def _already_succeeded(task: Task) -> bool:
    request = task.request
    if request.id is None or task.ignore_result:
        return False
    try:
        return bool(task.AsyncResult(request.id).state == states.SUCCESS)
    except Exception:
        return False


def task_definitions(
    app: Celery, catalog: TaskCatalog, provider: RuntimeProvider
) -> list[tuple[str, Callable[..., Any], dict[str, Any]]]:
    """``(name, function, options)`` of every task of ``catalog``."""
    definitions: list[tuple[str, Callable[..., Any], dict[str, Any]]] = []
    for name, job in catalog.jobs.items():
        options = {
            **JOB_TASK_OPTIONS,
            "bind": True,
            "max_retries": job.__retries__,
            "soft_time_limit": job.__timeout__,
        }
        definitions.append((name, _job_task(job, provider), options))
    for name, callback in catalog.success_callbacks.items():
        definitions.append(
            (name, _success_task(callback, provider), {**JOB_TASK_OPTIONS, "bind": True})
        )
    for name, callback in catalog.failure_callbacks.items():
        definitions.append((name, _failure_task(callback, provider, app), dict(JOB_TASK_OPTIONS)))
    return definitions


def install_tasks(app: Celery, catalog: TaskCatalog, provider: RuntimeProvider) -> None:
    """Create the tasks of ``catalog`` on a finalized ``app``, replacing same-named ones."""
    for name, fun, options in task_definitions(app, catalog, provider):
        if name in app._tasks:
            app._tasks.unregister(name)
        app._task_from_fun(fun, name=name, **options)


def register_tasks(app: Celery, catalog: TaskCatalog, provider: RuntimeProvider) -> None:
    """Register ``catalog``'s tasks on ``app`` for the runtime ``provider`` returns.

    The app is finalized first and marked as explicitly bound, so the Django
    integration does not register its own runtime's tasks on it.
    """
    app._loom_explicit = True
    app.finalize()
    with app._finalize_mutex:
        install_tasks(app, catalog, provider)
