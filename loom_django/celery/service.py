"""CeleryJobService: dispatch jobs to Celery after commit, wait on results, read status.

Semantics are those of ``InlineJobService``: the job id is known at dispatch, nothing is
sent until the surrounding transaction commits (dropped on rollback, immediate without
one), and a broker failure after the commit is logged and recorded, never raised.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from celery import Celery, states
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult, EagerResult, assert_will_not_block

from loom_django.celery.appref import get_celery_app
from loom_django.celery.names import (
    TaskCatalog,
    callback_error_task_name,
    callback_task_name,
)
from loom_django.celery.results import (
    JobStatus,
    describe_exception,
    mark_dispatch_failed,
    mark_pending,
    read_job_status,
)
from loom_django.celery.tasks import (
    invoke_failure_callback,
    invoke_success_callback,
    pop_eager_failure,
    task_context,
)
from loom_django.core.engine.events import MetricsAdapter
from loom_django.core.errors import JobFailedError, JobTimeoutError
from loom_django.core.job.handle import JobHandle
from loom_django.core.job.job import Job, job_task_name
from loom_django.core.job.lifecycle import (
    check_dispatch_arguments,
    prepare_dispatch,
    submit,
)
from loom_django.core.job.service import ParallelDispatchMixin

if TYPE_CHECKING:
    from loom_django.core.engine.executor import RuntimeExecutor
    from loom_django.core.use_case.factory import UseCaseFactory

__all__ = ["CeleryJobService", "JobMessage"]

_log = logging.getLogger("loom_django.jobs")
_RESULT_POLL_INTERVAL = 0.05
_EAGER_RESULTS_KEPT = 1024


@dataclass(frozen=True, slots=True)
class JobMessage:
    """Everything needed to send one dispatched job once its transaction committed."""

    job_type: type[Job[Any]]
    task_name: str
    job_id: str
    queue: str
    params: dict[str, Any] | None
    payload: dict[str, Any]
    on_success: type[Any] | None
    on_failure: type[Any] | None
    countdown: float | None
    priority: int | None
    eta: datetime | None
    trace_id: str | None

    def kwargs(self) -> dict[str, Any]:
        """The task kwargs: ``payload``, ``params`` and ``trace_id``."""
        return {"payload": self.payload, "params": self.params, "trace_id": self.trace_id}

    def callback_kwargs(self) -> dict[str, Any]:
        """What callback tasks receive besides the result or the error."""
        return {"job_id": self.job_id, "context": self.payload, "trace_id": self.trace_id}


class CeleryJobService(ParallelDispatchMixin):
    """JobService on Celery: ``dispatch`` sends ``loom.job.*`` tasks after commit.

    ``celery_app`` may be ``None``: the project's app is then found when the first job is
    sent (see :mod:`loom_django.celery.appref`). ``catalog`` (the runtime's tasks) makes
    dispatching an unknown job or callback fail in the request instead of in the worker.
    With ``task_always_eager`` a dispatch runs the job task locally after the commit and
    loom invokes the callbacks itself, exactly once.
    """

    def __init__(
        self,
        celery_app: Celery | None = None,
        metrics: MetricsAdapter | None = None,
        factory: UseCaseFactory | None = None,
        executor: RuntimeExecutor | None = None,
        observability_runtime: Any = None,
        *,
        catalog: TaskCatalog | None = None,
    ) -> None:
        self._celery_app = celery_app
        self._metrics = metrics
        self._factory = factory
        self._executor = executor
        self._observability = observability_runtime
        self._catalog = catalog
        self._eager_results: dict[str, EagerResult] = {}
        self._eager_lock = threading.Lock()

    @property
    def celery_app(self) -> Celery:
        """The Celery app jobs are sent with."""
        return self._celery_app or get_celery_app()

    @property
    def catalog(self) -> TaskCatalog | None:
        """The tasks this service may send, when known."""
        return self._catalog

    # -- dispatch ------------------------------------------------------------------

    def dispatch(
        self,
        job_type: type[Job[Any]],
        *,
        params: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
        on_success: type[Any] | None = None,
        on_failure: type[Any] | None = None,
        queue: str | None = None,
        countdown: int | None = None,
        priority: int | None = None,
        eta: datetime | None = None,
    ) -> JobHandle:
        """Register ``job_type`` to be sent after commit; returns its handle at once.

        Raises:
            TypeError: not a Job, a non-serialisable argument, or a non-callback class.
            ValueError: a reserved payload key, or a job/callback the runtime does not know.
        """
        check_dispatch_arguments(job_type, params, payload)
        task_name = self._task_name(job_type)
        catalog = self._catalog
        prepared = prepare_dispatch(
            job_type,
            params=params,
            payload=payload,
            on_success=on_success,
            on_failure=on_failure,
            queue=queue,
            countdown=countdown,
            priority=priority,
            eta=eta,
            metrics=self._metrics,
            knows_callback=catalog.knows_callback if catalog is not None else None,
        )
        job_id = prepared.job_id
        handle = JobHandle(
            job_id,
            prepared.queue,
            datetime.now(UTC),
            partial(self._wait, job_id),
            partial(self._wait_async, job_id),
        )
        message = JobMessage(
            job_type=job_type,
            task_name=task_name,
            job_id=job_id,
            queue=prepared.queue,
            params=prepared.params,
            payload=prepared.payload,
            on_success=on_success,
            on_failure=on_failure,
            countdown=prepared.countdown or None,
            priority=prepared.priority,
            eta=eta,
            trace_id=prepared.trace_id,
        )
        options = {
            "task_name": task_name,
            "countdown": prepared.countdown,
            "priority": prepared.priority,
            "eta": eta,
        }
        submit(prepared, partial(self.send, message), options)
        return handle

    async def run(
        self,
        job_type: type[Job[Any]],
        *,
        params: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Any:
        """Execute ``job_type`` here and now (joining the current transaction); no callbacks.

        Raises:
            NotImplementedError: the service was built without a factory and an executor.
        """
        factory, executor = self._engine("run")
        return await executor.execute(factory.build(job_type), params=params, payload=payload)

    def status(self, job_id: str) -> JobStatus | None:
        """The job's state, result or error and timestamps; ``None`` for an unknown id.

        Never includes the worker's traceback (the status route serves this to clients);
        read it with :func:`~loom_django.celery.results.read_job_status` when needed.
        """
        label = self._catalog.job_label if self._catalog is not None else None
        return read_job_status(self.celery_app, job_id, label=label)

    # -- sending -------------------------------------------------------------------

    def send(self, message: JobMessage) -> None:
        """Hand ``message`` to the broker (or run it eagerly); never raises."""
        try:
            app = self.celery_app
            if app.conf.task_always_eager:
                self._run_eagerly(app, message)
                return
        except Exception as exc:
            _log.error(
                "job %s (%s) could not be dispatched: %r",
                message.job_id,
                message.task_name,
                exc,
                exc_info=exc,
            )
            return
        try:
            mark_pending(app, message.job_id, message.task_name)
        except Exception:
            _log.warning("job %s: could not record PENDING", message.job_id, exc_info=True)
        try:
            self._publish(app, message)
        except Exception as exc:
            _log.error(
                "job %s (%s) could not be sent to the broker after commit: %r",
                message.job_id,
                message.task_name,
                exc,
                exc_info=exc,
            )
            mark_dispatch_failed(app, message.job_id, message.task_name, exc)

    def _publish(self, app: Celery, message: JobMessage) -> None:
        options: dict[str, Any] = {}
        if message.on_success is not None:
            options["link"] = app.signature(
                callback_task_name(message.on_success),
                kwargs=message.callback_kwargs(),
                options={
                    "queue": app.conf.task_default_queue,
                    "task_id": f"{message.job_id}-on-success",
                },
            )
        if message.on_failure is not None:
            options["link_error"] = app.signature(
                callback_error_task_name(message.on_failure),
                kwargs=message.callback_kwargs(),
                options={"queue": app.conf.task_default_queue},
            )
        if message.countdown:
            options["countdown"] = message.countdown
        if message.eta is not None:
            options["eta"] = message.eta
        if message.priority:
            options["priority"] = message.priority
        timeout = message.job_type.__timeout__
        if timeout:
            options["soft_time_limit"] = timeout
        app.send_task(
            message.task_name,
            kwargs=message.kwargs(),
            task_id=message.job_id,
            queue=message.queue,
            **options,
        )

    def _run_eagerly(self, app: Celery, message: JobMessage) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self._apply_eagerly(app, message)
            return
        # Inside a running event loop: run the job on a helper thread (never nest loops).
        worker = threading.Thread(target=self._apply_on_helper_thread, args=(app, message))
        worker.start()
        worker.join()

    def _apply_on_helper_thread(self, app: Celery, message: JobMessage) -> None:
        try:
            self._apply_eagerly(app, message)
        finally:
            from django.db import connections

            connections.close_all()

    def _remember_eager(self, job_id: str, eager: EagerResult) -> None:
        """Keep the newest eager results; request threads call this concurrently."""
        with self._eager_lock:
            results = self._eager_results
            results[job_id] = eager
            while len(results) > _EAGER_RESULTS_KEPT:
                del results[next(iter(results))]

    def _apply_eagerly(self, app: Celery, message: JobMessage) -> None:
        if app.conf.task_store_eager_result:
            try:
                mark_pending(app, message.job_id, message.task_name)
            except Exception:
                _log.warning("job %s: could not record PENDING", message.job_id, exc_info=True)
        outcome: Any
        try:
            task = app.tasks[message.task_name]
            eager = task.apply(kwargs=message.kwargs(), task_id=message.job_id, throw=False)
            failed = eager.failed()
            outcome = eager.result
        except Exception as exc:
            failed, outcome = True, exc
        if failed:
            outcome = pop_eager_failure(message.job_id) or outcome
            eager = EagerResult(message.job_id, outcome, states.FAILURE, name=message.task_name)
        self._remember_eager(message.job_id, eager)
        if self._factory is None or self._executor is None:
            return
        with task_context(app, message.trace_id):
            if failed and message.on_failure is not None:
                invoke_failure_callback(
                    self._factory,
                    self._executor,
                    message.on_failure,
                    job_id=message.job_id,
                    exc_type=type(outcome).__qualname__,
                    exc_msg=str(outcome),
                    context=message.payload,
                )
            elif not failed and message.on_success is not None:
                invoke_success_callback(
                    self._factory,
                    self._executor,
                    message.on_success,
                    job_id=message.job_id,
                    result=outcome,
                    context=message.payload,
                )

    # -- waiting -------------------------------------------------------------------

    def _wait(self, job_id: str, timeout: float | None) -> Any:
        assert_will_not_block()
        with self._eager_lock:
            eager = self._eager_results.get(job_id)
        result: AsyncResult = (
            eager if eager is not None else AsyncResult(job_id, app=self.celery_app)
        )
        try:
            return result.get(
                timeout=timeout,
                propagate=True,
                interval=_RESULT_POLL_INTERVAL,
                disable_sync_subtasks=True,
            )
        except CeleryTimeoutError as exc:
            raise JobTimeoutError(job_id, timeout) from exc
        except Exception as exc:
            kind, text = describe_exception(exc)
            raise JobFailedError(job_id, f"{kind}: {text}") from exc

    async def _wait_async(self, job_id: str, timeout: float | None) -> Any:
        assert_will_not_block()
        return await asyncio.to_thread(self._wait_and_release, job_id, timeout)

    def _wait_and_release(self, job_id: str, timeout: float | None) -> Any:
        try:
            return self._wait(job_id, timeout)
        finally:
            from django.db import connections

            connections.close_all()

    # -- helpers -------------------------------------------------------------------

    def _engine(self, what: str) -> tuple[UseCaseFactory, RuntimeExecutor]:
        if self._factory is None or self._executor is None:
            raise NotImplementedError(
                f"CeleryJobService.{what}() requires factory and executor. Build the service "
                "with both (loom_django always does)."
            )
        return self._factory, self._executor

    def _task_name(self, job_type: type[Job[Any]]) -> str:
        if self._catalog is None:
            return job_task_name(job_type)
        name = self._catalog.job_name(job_type)
        if name is None:
            raise ValueError(
                f"{job_type.__qualname__} is not a discovered job, so no worker runs it. "
                "Define it in an installed app's jobs module (or list it for discovery)."
            )
        return name
