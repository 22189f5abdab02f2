"""``GET /jobs/{job_id}``: the job's state as JSON, shared by the ninja route and the plain view.

Read-only (no transaction); never exposes the payload or the params. Errors use the
loom envelope ``{"detail": {"code", "message", "trace_id", ...}}``.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from django.http import HttpResponse

from loom_django.core.errors import ErrorCode
from loom_django.core.tracing import get_trace_id

__all__ = ["job_status_response", "parse_job_id"]

_JSON = "application/json"
_encode = msgspec.json.Encoder().encode


def parse_job_id(value: str) -> str | None:
    """The canonical form of a UUID job id, or ``None`` when ``value`` is not one."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        return None


def _error(status: int, code: str, message: str, **extras: Any) -> HttpResponse:
    detail = {"code": code, "message": message, "trace_id": get_trace_id(), **extras}
    return HttpResponse(_encode({"detail": detail}), status=status, content_type=_JSON)


def job_status_response(job_id: str, service: Any = None) -> HttpResponse:
    """200 with the job status; 404 ``not_found`` (entity ``Job``); 422 for a malformed id."""
    canonical = parse_job_id(job_id)
    if canonical is None:
        message = "job_id must be a UUID"
        return _error(
            422,
            ErrorCode.VALIDATION_ERROR,
            f"job_id: {message}",
            violations=[{"field": "job_id", "message": message}],
        )
    if service is None:
        from loom_django.celery.integration import runtime

        service = runtime().job_service
    reader = getattr(service, "status", None)
    found = reader(canonical) if callable(reader) else None
    if found is None:
        return _error(
            404,
            ErrorCode.NOT_FOUND,
            f"Job with id={canonical!r} not found",
            entity="Job",
            id=canonical,
        )
    return HttpResponse(_encode(found), content_type=_JSON)
