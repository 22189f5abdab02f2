"""JobService: dispatch jobs after commit, run them in-process, and the inline implementation."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import msgspec

from loom_django.core.engine.events import EventKind, MetricsAdapter, RuntimeEvent, emit
from loom_django.core.errors import JobFailedError, JobTimeoutError
from loom_django.core.job.callback import RESERVED_CALLBACK_KEYS
from loom_django.core.job.handle import JobGroup, JobHandle
from loom_django.core.job.job import Job
from loom_django.core.tracing import get_trace_id
from loom_django.core.uow import run_after_commit

if TYPE_CHECKING:
    from loom_django.core.engine.executor import RuntimeExecutor
    from loom_django.core.use_case.factory import UseCaseFactory

__all__ = [
    "CapturedDispatch",
    "InlineJobService",
    "JobService",
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


@dataclass(frozen=True)
class CapturedDispatch:
    """A dispatch recorded by ``captured_dispatches`` instead of being sent."""

    job_type: type[Any]
    job_id: str
    params: dict[str, Any]
    payload: dict[str, Any]
    on_success: type[Any] | None = None
    on_failure: type[Any] | None = None
    queue: str = "default"
    options: dict[str, Any] = field(default_factory=dict)


_CAPTURE: ContextVar[list[CapturedDispatch] | None] = ContextVar("loom_capture", default=None)


@contextmanager
def captured_dispatches() -> Iterator[list[CapturedDispatch]]:
    """Record every dispatch made inside the block instead of sending it (for tests)."""
    captured: list[CapturedDispatch] = []
    token = _CAPTURE.set(captured)
    try:
        yield captured
    finally:
        _CAPTURE.reset(token)


def capture(dispatch: CapturedDispatch) -> bool:
    """Record ``dispatch`` if a ``captured_dispatches`` block is active; True if recorded."""
    captured = _CAPTURE.get()
    if captured is None:
        return False
    captured.append(dispatch)
    return True


def dispatch_each(service: JobService, jobs: Sequence[tuple[Any, ...]]) -> JobGroup:
    """Dispatch ``(job_type, payload[, params])`` entries in order; their handles as a group."""
    handles = []
    for entry in jobs:
        job_type, payload, *rest = entry
        handles.append(
            service.dispatch(job_type, payload=payload, params=rest[0] if rest else None)
        )
    return JobGroup(tuple(handles))


def new_job_id() -> str:
    """A new job id (a UUID4 string, also used as the Celery task id)."""
    return str(uuid.uuid4())


def check_dispatch_arguments(
    job_type: type[Any], params: dict[str, Any] | None, payload: dict[str, Any] | None
) -> None:
    """Reject non-serialisable arguments and reserved callback keys before anything commits.

    Raises:
        TypeError: ``job_type`` is not a Job, or a value cannot be serialised.
        ValueError: the payload uses a key reserved for callback arguments.
    """
    if not (isinstance(job_type, type) and issubclass(job_type, Job)):
        raise TypeError(f"{job_type!r} is not a Job subclass")
    for label, values in (("params", params), ("payload", payload)):
        if values is None:
            continue
        if not isinstance(values, dict):
            raise TypeError(f"{job_type.__qualname__}: {label} must be a dict")
        reserved = RESERVED_CALLBACK_KEYS.intersection(values)
        if reserved:
            raise ValueError(
                f"{job_type.__qualname__}: {label} uses reserved key(s) "
                f"{', '.join(sorted(reserved))}"
            )
        try:
            msgspec.json.encode(values)
        except (TypeError, msgspec.EncodeError) as exc:
            raise TypeError(
                f"{job_type.__qualname__}: {label} is not JSON-serialisable: {exc}"
            ) from exc


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


class InlineJobService:
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
        """Register the job to run after commit (or now, outside a transaction)."""
        check_dispatch_arguments(job_type, params, payload)
        job_id = new_job_id()
        queue_name = queue or job_type.__queue__
        handle = JobHandle(job_id, queue_name, datetime.now(UTC), self._waiter(job_id))
        emit(
            self._metrics,
            RuntimeEvent(EventKind.JOB_DISPATCHED, job_type.__qualname__, trace_id=get_trace_id()),
        )
        dispatch = CapturedDispatch(
            job_type,
            job_id,
            dict(params or {}),
            dict(payload or {}),
            on_success,
            on_failure,
            queue_name,
        )
        if not capture(dispatch):
            run_after_commit(lambda: self._run_dispatched(dispatch))
        return handle

    def dispatch_parallel(
        self,
        jobs: Sequence[tuple[Any, ...]],
        *,
        on_all_success: type[Any] | None = None,
        on_any_failure: type[Any] | None = None,
    ) -> JobGroup:
        """Dispatch each entry; group callbacks are ignored by the inline service."""
        return dispatch_each(self, jobs)

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

    def _run_dispatched(self, dispatch: CapturedDispatch) -> None:
        job_name = dispatch.job_type.__qualname__
        emit(self._metrics, RuntimeEvent(EventKind.JOB_STARTED, job_name))
        try:
            result = self._executor.execute_sync(
                self._factory.build(dispatch.job_type),
                params=dispatch.params,
                payload=dispatch.payload,
            )
        except Exception as exc:
            self._results[dispatch.job_id] = (False, exc)
            _log.error("job %s (%s) failed: %r", dispatch.job_id, job_name, exc, exc_info=exc)
            emit(
                self._metrics,
                RuntimeEvent(EventKind.JOB_EXHAUSTED, job_name, status="exhausted", error=exc),
            )
            if dispatch.on_failure is not None:
                run_callback(
                    self._factory,
                    self._executor,
                    dispatch.on_failure,
                    "on_failure",
                    job_id=dispatch.job_id,
                    exc_type=type(exc).__qualname__,
                    exc_msg=str(exc),
                    **dispatch.payload,
                )
            return
        self._results[dispatch.job_id] = (True, result)
        emit(self._metrics, RuntimeEvent(EventKind.JOB_SUCCEEDED, job_name, status="success"))
        if dispatch.on_success is not None:
            run_callback(
                self._factory,
                self._executor,
                dispatch.on_success,
                "on_success",
                job_id=dispatch.job_id,
                result=result_to_builtins(result),
                **dispatch.payload,
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
