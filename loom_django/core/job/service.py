"""JobService: dispatch jobs after commit, run them in-process, and the inline implementation."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast, runtime_checkable

import msgspec

from loom_django.core.engine.events import MetricsAdapter
from loom_django.core.errors import JobFailedError, JobTimeoutError
from loom_django.core.job.handle import JobGroup, JobHandle
from loom_django.core.job.job import Job
from loom_django.core.job.lifecycle import (
    CapturedDispatch,
    PreparedDispatch,
    capture,
    captured_dispatches,
    check_dispatch_arguments,
    new_job_id,
    prepare_dispatch,
    reject_group_callbacks,
    run_attempt,
    submit,
)

if TYPE_CHECKING:
    from loom_django.core.engine.executor import RuntimeExecutor
    from loom_django.core.use_case.factory import UseCaseFactory

__all__ = [
    "CapturedDispatch",
    "InlineJobService",
    "capture",
    "JobService",
    "ParallelDispatchMixin",
    "captured_dispatches",
    "dispatch_each",
    "check_dispatch_arguments",
    "new_job_id",
    "result_to_builtins",
    "run_callback",
]

ResultT = TypeVar("ResultT")
_log = logging.getLogger("loom_django.jobs")


@runtime_checkable
class JobService(Protocol):
    """Sends jobs to be run later (after the current transaction commits) or runs them now."""

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
        """Register ``job_type`` to be sent after commit; returns its handle at once."""
        ...

    async def run(
        self,
        job_type: type[Job[Any]],
        *,
        params: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Any:
        """Execute ``job_type`` in this process (joining the current transaction)."""
        ...

    def dispatch_parallel(
        self,
        jobs: Sequence[tuple[Any, ...]],
        *,
        on_all_success: type[Any] | None = None,
        on_any_failure: type[Any] | None = None,
    ) -> JobGroup:
        """Dispatch ``(job_type, payload[, params])`` entries; returns their group."""
        ...


def dispatch_each(service: JobService, jobs: Sequence[tuple[Any, ...]]) -> JobGroup:
    """Dispatch ``(job_type, payload[, params])`` entries in order; their handles as a group."""
    handles = []
    for entry in jobs:
        job_type, payload, *rest = entry
        handles.append(
            service.dispatch(job_type, payload=payload, params=rest[0] if rest else None)
        )
    return JobGroup(tuple(handles))


def result_to_builtins(result: Any) -> Any:
    """The JSON-compatible form of a job result (camelCase keys for structs)."""
    return msgspec.to_builtins(result)


def run_callback(
    factory: UseCaseFactory,
    executor: RuntimeExecutor,
    callback_type: type[Any],
    method: str,
    **arguments: Any,
) -> None:
    """Build ``callback_type`` through DI and call ``method`` inside one unit of work.

    Callback errors are logged with the job id and never propagate.
    """
    try:
        callback = factory.build(callback_type)
        with executor.unit_of_work():
            outcome = getattr(callback, method)(**arguments)
            if hasattr(outcome, "__await__"):
                executor.drive(outcome, f"{callback_type.__qualname__}.{method}")
    except Exception:
        _log.exception(
            "callback %s.%s failed for job %s",
            callback_type.__qualname__,
            method,
            arguments.get("job_id"),
        )


class ParallelDispatchMixin:
    """``dispatch_parallel`` for services without group callbacks: one dispatch per entry."""

    def dispatch_parallel(
        self,
        jobs: Sequence[tuple[Any, ...]],
        *,
        on_all_success: type[Any] | None = None,
        on_any_failure: type[Any] | None = None,
    ) -> JobGroup:
        """Dispatch ``(job_type, payload[, params])`` entries; group callbacks are unsupported.

        Raises:
            NotImplementedError: ``on_all_success`` or ``on_any_failure`` was given.
        """
        reject_group_callbacks(on_all_success, on_any_failure)
        return dispatch_each(cast(JobService, self), jobs)


class InlineJobService(ParallelDispatchMixin):
    """Runs dispatched jobs in this process right after the surrounding commit.

    Used by the demo and tests when no broker is configured; keeps results for
    ``handle.wait()``. ``countdown``, ``priority`` and ``eta`` are ignored.
    """

    def __init__(
        self,
        factory: UseCaseFactory,
        executor: RuntimeExecutor,
        metrics: MetricsAdapter | None = None,
    ) -> None:
        self._factory = factory
        self._executor = executor
        self._metrics = metrics
        self._results: dict[str, tuple[bool, Any]] = {}

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
        """Register the job to run after commit (or now, outside a transaction).

        Raises:
            TypeError: not a Job, a non-serialisable argument, or a non-callback class.
            ValueError: a reserved payload key.
        """
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
        )
        handle = JobHandle(
            prepared.job_id, prepared.queue, datetime.now(UTC), self._waiter(prepared.job_id)
        )
        submit(prepared, lambda: self._run_dispatched(prepared))
        return handle

    async def run(
        self,
        job_type: type[Job[Any]],
        *,
        params: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Any:
        """Execute the job here and now; errors propagate, no callbacks."""
        return await self._executor.execute(
            self._factory.build(job_type), params=params, payload=payload
        )

    def _run_dispatched(self, prepared: PreparedDispatch) -> None:
        """Run the attempts the job allows, back to back, then its callback."""
        for retries in range(prepared.job_type.__retries__ + 1):
            outcome = run_attempt(
                prepared.job_type,
                self._factory,
                self._executor,
                job_id=prepared.job_id,
                params=prepared.params,
                payload=prepared.payload,
                trace_id=prepared.trace_id,
                retries=retries,
            )
            if outcome.retry_in is None:
                break
        if outcome.error is not None:
            exc = outcome.error
            self._results[prepared.job_id] = (False, exc)
            if prepared.on_failure is not None:
                run_callback(
                    self._factory,
                    self._executor,
                    prepared.on_failure,
                    "on_failure",
                    job_id=prepared.job_id,
                    exc_type=type(exc).__qualname__,
                    exc_msg=str(exc),
                    **prepared.payload,
                )
            return
        self._results[prepared.job_id] = (True, outcome.result)
        if prepared.on_success is not None:
            run_callback(
                self._factory,
                self._executor,
                prepared.on_success,
                "on_success",
                job_id=prepared.job_id,
                result=result_to_builtins(outcome.result),
                **prepared.payload,
            )

    def _waiter(self, job_id: str) -> Callable[[float | None], Any]:
        def wait(timeout: float | None) -> Any:
            outcome = self._results.get(job_id)
            if outcome is None:
                raise JobTimeoutError(job_id, timeout)
            ok, value = outcome
            if not ok:
                raise JobFailedError(job_id, str(value))
            return value

        return wait
