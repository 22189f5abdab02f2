"""Job status in the result backend: PENDING rows at send time, dispatch failures, reads.

With django-celery-results (``django-db``) the status is the ``TaskResult`` row whose
``task_id`` is the job id; other backends are read through Celery's task meta.
"""

from __future__ import annotations

import base64
import logging
import traceback as tb
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import msgspec
from celery import Celery, states
from celery.backends.base import DisabledBackend
from kombu import serialization

from loom_django.celery.errors import DispatchError
from loom_django.celery.names import JOB_PREFIX

__all__ = [
    "READY_STATES",
    "JobError",
    "JobStatus",
    "ResultDecodeError",
    "accepted_result_content",
    "describe_exception",
    "mark_dispatch_failed",
    "mark_pending",
    "read_job_status",
    "uses_django_db",
]

_log = logging.getLogger("loom_django.jobs")

READY_STATES = frozenset({states.SUCCESS, states.FAILURE, states.REVOKED})
"""States after which a job will not run again (``dateDone`` is reported only for these)."""


class JobError(msgspec.Struct, rename="camel", omit_defaults=True):
    """Why a job failed: the exception class and its message.

    ``traceback`` is filled only when a caller asks for it (``with_traceback=True``);
    the HTTP status route never does.
    """

    type: str
    message: str
    traceback: str | None = None


class JobStatus(msgspec.Struct, rename="camel"):
    """The state of one job, as the status route and ``JobService.status`` report it."""

    job_id: str
    job: str | None
    task_name: str | None
    status: str
    result: Any = None
    error: JobError | None = None
    date_created: datetime | None = None
    date_started: datetime | None = None
    date_done: datetime | None = None


def uses_django_db(app: Celery) -> bool:
    """Whether ``app`` stores results in Django's database (django-celery-results)."""
    try:
        from django_celery_results.backends.database import DatabaseBackend
    except ImportError:  # pragma: no cover - the extra is installed with loom_django[celery]
        return False
    return isinstance(app.backend, DatabaseBackend)


def _request(task_name: str, job_id: str) -> SimpleNamespace:
    return SimpleNamespace(id=job_id, task=task_name, args=None, kwargs=None, children=[])


def mark_pending(app: Celery, job_id: str, task_name: str) -> None:
    """Record the job as PENDING before it is sent (so "unknown" and "queued" differ)."""
    backend = app.backend
    if isinstance(backend, DisabledBackend):
        return
    if uses_django_db(app):
        from django_celery_results.models import TaskResult

        content_type, encoding, empty = backend.encode_content(None)
        TaskResult.objects.create(
            task_id=job_id,
            task_name=task_name,
            status=states.PENDING,
            content_type=content_type,
            content_encoding=encoding,
            result=empty,
        )
        return
    backend.store_result(job_id, None, states.PENDING, request=_request(task_name, job_id))


def mark_dispatch_failed(app: Celery, job_id: str, task_name: str, exc: BaseException) -> None:
    """Record ``DispatchError`` as the job's FAILURE; never raises (it is logged)."""
    backend = app.backend
    if isinstance(backend, DisabledBackend):
        return
    error = DispatchError(f"{type(exc).__name__}: {exc}")
    trace = "".join(tb.format_exception(type(exc), exc, exc.__traceback__))
    try:
        backend.store_result(
            job_id, error, states.FAILURE, traceback=trace, request=_request(task_name, job_id)
        )
    except Exception:
        _log.exception("could not record the dispatch failure of job %s", job_id)


class ResultDecodeError(Exception):
    """A stored result uses a content type the app does not accept, or is corrupt."""


def accepted_result_content(app: Celery) -> list[str]:
    """The content types results may be read with (``result_accept_content``, else
    ``accept_content``); pickle is refused unless the project accepts it."""
    accepted = app.conf.result_accept_content or app.conf.accept_content or ["json"]
    return list(accepted)


def _decode(content: str | None, content_type: str, encoding: str, accept: list[str]) -> Any:
    if content is None:
        return None
    try:
        data: str | bytes = content
        if encoding == "binary":
            data = base64.b64decode(content)
        decode: Any = serialization.loads
        prepare: Any = serialization.prepare_accept_content
        return decode(data, content_type, encoding, accept=prepare(accept))
    except Exception as exc:
        # Stored rows come from workers, other apps or an attacker with database access:
        # never unpickle what the app does not accept, never fail the status read.
        _log.warning("stored job result not decoded (%s): %r", content_type, exc)
        raise ResultDecodeError(
            f"The stored result (content type {content_type!r}) cannot be decoded with the "
            f"accepted content types ({', '.join(accept)})."
        ) from None


_WRAPPER = "UnpickleableExceptionWrapper"


def _message(args: Any) -> str:
    if isinstance(args, list | tuple):
        if not args:
            return ""
        return str(args[0]) if len(args) == 1 else str(tuple(args))
    return "" if args is None else str(args)


def describe_exception(exc: BaseException) -> tuple[str, str]:
    """``(class name, message)`` of an exception, seeing through Celery's pickling wrapper."""
    if type(exc).__name__ == _WRAPPER:
        return str(getattr(exc, "exc_cls_name", _WRAPPER)), _message(getattr(exc, "exc_args", ()))
    return type(exc).__qualname__, str(exc)


def _error_from_meta(value: Any) -> JobError:
    if isinstance(value, BaseException):
        kind, message = describe_exception(value)
        return JobError(type=kind, message=message)
    if isinstance(value, dict):
        kind = str(value.get("exc_type", "Exception"))
        args = value.get("exc_message")
        if kind == _WRAPPER and isinstance(args, list | tuple) and len(args) >= 3:
            return JobError(type=str(args[1]), message=_message(args[2]))
        return JobError(type=kind, message=_message(args))
    return JobError(type="Exception", message="" if value is None else str(value))


def read_job_status(
    app: Celery,
    job_id: str,
    *,
    label: Callable[[str | None], str | None] | None = None,
    with_traceback: bool = False,
) -> JobStatus | None:
    """The job's status, or ``None`` when the backend has never heard of ``job_id``."""
    name_of = label or _default_label
    if uses_django_db(app):
        from django_celery_results.models import TaskResult

        row = TaskResult.objects.filter(task_id=job_id).first()
        if row is None:
            return None
        status = row.status
        try:
            value = _decode(
                row.result, row.content_type, row.content_encoding, accepted_result_content(app)
            )
        except ResultDecodeError as exc:
            return _undecodable(job_id, row, name_of, str(exc))
        return _status(
            job_id,
            row.task_name,
            status,
            value,
            row.traceback if with_traceback else None,
            name_of,
            row.date_created,
            row.date_started,
            row.date_done,
        )
    if isinstance(app.backend, DisabledBackend):
        return None
    try:
        meta = app.backend.get_task_meta(job_id)
    except Exception as exc:
        _log.warning("job %s: stored result not decoded: %r", job_id, exc)
        message = "The stored result cannot be decoded with the accepted content types."
        return JobStatus(
            job_id=job_id,
            job=None,
            task_name=None,
            status=states.FAILURE,
            error=JobError(type=ResultDecodeError.__name__, message=message),
        )
    status = meta.get("status", states.PENDING)
    if status == states.PENDING and "task_id" not in meta:
        return None
    task_name = meta.get("name")
    done = meta.get("date_done")
    if isinstance(done, str):
        done = datetime.fromisoformat(done)
    return _status(
        job_id,
        task_name,
        status,
        meta.get("result"),
        meta.get("traceback") if with_traceback else None,
        name_of,
        None,
        None,
        done,
    )


def _undecodable(
    job_id: str, row: Any, label: Callable[[str | None], str | None], message: str
) -> JobStatus:
    return JobStatus(
        job_id=job_id,
        job=label(row.task_name),
        task_name=row.task_name,
        status=row.status,
        error=JobError(type=ResultDecodeError.__name__, message=message),
        date_created=row.date_created,
        date_started=row.date_started,
        date_done=row.date_done if row.status in READY_STATES else None,
    )


def _status(
    job_id: str,
    task_name: str | None,
    status: str,
    value: Any,
    trace: str | None,
    label: Callable[[str | None], str | None],
    created: datetime | None,
    started: datetime | None,
    done: datetime | None,
) -> JobStatus:
    error = None
    if status == states.FAILURE:
        error = _error_from_meta(value)
        if trace:
            error.traceback = trace
    return JobStatus(
        job_id=job_id,
        job=label(task_name),
        task_name=task_name,
        status=status,
        result=value if status == states.SUCCESS else None,
        error=error,
        date_created=created,
        date_started=started,
        date_done=done if status in READY_STATES else None,
    )


def _default_label(task_name: str | None) -> str | None:
    if task_name and task_name.startswith(JOB_PREFIX):
        return task_name[len(JOB_PREFIX) :]
    return task_name
