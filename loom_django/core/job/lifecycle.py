"""The job lifecycle every JobService shares: prepare a dispatch, run an attempt and report.

A backend implements only "send": the inline service runs the prepared dispatch in this
process after the commit, the Celery service publishes it. Both validate the same way,
emit the same events (with the trace id and the duration) and take the same retry
decision, so a job behaves alike whichever backend runs it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from loom_django.core.engine.events import EventKind, MetricsAdapter, RuntimeEvent, emit
from loom_django.core.errors import DomainError
from loom_django.core.job.callback import RESERVED_CALLBACK_KEYS, is_callback_class
from loom_django.core.job.job import Job
from loom_django.core.tracing import get_trace_id
from loom_django.core.uow import run_after_commit

if TYPE_CHECKING:
    from loom_django.core.engine.executor import RuntimeExecutor
    from loom_django.core.use_case.factory import UseCaseFactory

__all__ = [
    "Attempt",
    "CapturedDispatch",
    "PreparedDispatch",
    "capture",
    "captured_dispatches",
    "check_dispatch_arguments",
    "new_job_id",
    "check_callbacks",
    "prepare_dispatch",
    "reject_group_callbacks",
    "run_attempt",
    "submit",
]

_log = logging.getLogger("loom_django.jobs")


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


@dataclass(frozen=True, slots=True)
class PreparedDispatch:
    """A validated dispatch with its id, queue and trace id, ready to be sent after commit."""

    job_type: type[Job[Any]]
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

    def captured(self, options: dict[str, Any] | None = None) -> CapturedDispatch:
        """What ``captured_dispatches`` records for this dispatch."""
        return CapturedDispatch(
            self.job_type,
            self.job_id,
            dict(self.params or {}),
            self.payload,
            self.on_success,
            self.on_failure,
            self.queue,
            dict(options or {}),
        )


def check_callbacks(
    *callbacks: type[Any] | None, knows: Callable[[type[Any]], bool] | None = None
) -> None:
    """Reject a callback that is not a callback class (or that ``knows`` does not know).

    Raises:
        TypeError: a class without ``on_success`` and ``on_failure``.
        ValueError: ``knows(callback)`` is false (no worker would run it).
    """
    for callback in callbacks:
        if callback is None:
            continue
        if not is_callback_class(callback):
            raise TypeError(
                f"{callback!r} is not a job callback class (it needs on_success and on_failure)"
            )
        if knows is not None and not knows(callback):
            raise ValueError(
                f"{callback.__qualname__} is not a discovered callback, so no worker runs it. "
                "Define it in an installed app's callbacks module (or list it for discovery)."
            )


def reject_group_callbacks(
    on_all_success: type[Any] | None, on_any_failure: type[Any] | None
) -> None:
    """Group callbacks are not supported by any JobService.

    Raises:
        NotImplementedError: ``on_all_success`` or ``on_any_failure`` was given.
    """
    if on_all_success is not None or on_any_failure is not None:
        raise NotImplementedError(
            "Group callbacks (on_all_success/on_any_failure) are not supported; wait on the "
            "JobGroup or chain with per-job callbacks."
        )


def prepare_dispatch(
    job_type: type[Job[Any]],
    *,
    params: dict[str, Any] | None,
    payload: dict[str, Any] | None,
    on_success: type[Any] | None,
    on_failure: type[Any] | None,
    queue: str | None,
    countdown: float | None,
    priority: int | None,
    eta: datetime | None,
    metrics: MetricsAdapter | None,
    knows_callback: Callable[[type[Any]], bool] | None = None,
) -> PreparedDispatch:
    """Validate a dispatch, give it an id and emit ``JOB_DISPATCHED``.

    ``countdown`` and ``priority`` default to the job's ``__countdown__``/``__priority__``.

    Raises:
        TypeError: not a Job, a non-serialisable argument, or a non-callback class.
        ValueError: a reserved payload key, or a callback ``knows_callback`` rejects.
    """
    check_dispatch_arguments(job_type, params, payload)
    check_callbacks(on_success, on_failure, knows=knows_callback)
    trace_id = get_trace_id()
    prepared = PreparedDispatch(
        job_type=job_type,
        job_id=new_job_id(),
        queue=queue or job_type.__queue__,
        params=dict(params) if params is not None else None,
        payload=dict(payload or {}),
        on_success=on_success,
        on_failure=on_failure,
        countdown=job_type.__countdown__ if countdown is None else countdown,
        priority=job_type.__priority__ if priority is None else priority,
        eta=eta,
        trace_id=trace_id,
    )
    emit(metrics, RuntimeEvent(EventKind.JOB_DISPATCHED, job_type.__qualname__, trace_id=trace_id))
    return prepared


def submit(
    prepared: PreparedDispatch, send: Callable[[], None], options: dict[str, Any] | None = None
) -> None:
    """Record ``prepared`` in an active ``captured_dispatches`` block, or ``send`` it after
    the surrounding commit (now, outside a transaction; never, on rollback)."""
    if not capture(prepared.captured(options)):
        run_after_commit(send)


@dataclass(frozen=True, slots=True)
class Attempt:
    """How one attempt ended: a result, a retry after ``retry_in`` seconds, or a final error."""

    result: Any = None
    error: Exception | None = None
    retry_in: float | None = None

    @property
    def ok(self) -> bool:
        """Whether the attempt succeeded."""
        return self.error is None


def run_attempt(
    job_type: type[Any],
    factory: UseCaseFactory,
    executor: RuntimeExecutor,
    *,
    job_id: str | None,
    params: dict[str, Any] | None,
    payload: dict[str, Any] | None,
    trace_id: str | None,
    retries: int = 0,
    guard: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> Attempt:
    """Run attempt ``retries + 1`` of ``job_type`` in its own transaction and report it.

    Emits ``JOB_STARTED``, then ``JOB_SUCCEEDED``, ``JOB_RETRYING`` or ``JOB_EXHAUSTED``
    with the trace id and the duration. A ``DomainError`` or the last allowed attempt is
    final; otherwise the next attempt is due after ``__backoff__ ** retries`` seconds.
    ``guard`` wraps the execution (e.g. a time limit).
    """
    metrics = executor.metrics
    name = job_type.__qualname__
    emit(metrics, RuntimeEvent(EventKind.JOB_STARTED, name, trace_id=trace_id))
    started = time.perf_counter()
    try:
        with guard():
            result = executor.execute_sync(factory.build(job_type), params=params, payload=payload)
    except Exception as exc:
        duration = (time.perf_counter() - started) * 1000
        if isinstance(exc, DomainError) or retries >= job_type.__retries__:
            _log.error(
                "[JOB] %s %s failed after %d attempt(s): %r",
                name,
                job_id,
                retries + 1,
                exc,
                exc_info=exc,
            )
            _report(metrics, EventKind.JOB_EXHAUSTED, name, duration, trace_id, exc)
            return Attempt(error=exc)
        retry_in = float(job_type.__backoff__**retries)
        _log.warning(
            "[JOB] %s %s attempt %d failed (%r); retrying in %ss",
            name,
            job_id,
            retries + 1,
            exc,
            job_type.__backoff__**retries,
        )
        _report(metrics, EventKind.JOB_RETRYING, name, duration, trace_id, exc)
        return Attempt(error=exc, retry_in=retry_in)
    duration = (time.perf_counter() - started) * 1000
    _report(metrics, EventKind.JOB_SUCCEEDED, name, duration, trace_id, None)
    _log.debug("[JOB] %s %s succeeded in %.1fms", name, job_id, duration)
    return Attempt(result=result)


def _report(
    metrics: MetricsAdapter | None,
    kind: EventKind,
    name: str,
    duration: float,
    trace_id: str | None,
    error: Exception | None,
) -> None:
    status = {
        EventKind.JOB_SUCCEEDED: "success",
        EventKind.JOB_RETRYING: "retrying",
        EventKind.JOB_EXHAUSTED: "exhausted",
    }[kind]
    emit(
        metrics,
        RuntimeEvent(
            kind, name, duration_ms=duration, status=status, error=error, trace_id=trace_id
        ),
    )
