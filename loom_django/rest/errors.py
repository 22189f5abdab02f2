"""The error envelope: every failure becomes ``{"detail": {"code", "message", "trace_id"}}``."""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from loom_django.core.errors import (
    BadRequest,
    ErrorCode,
    FilterPathError,
    LoomError,
    NotFound,
    RuleViolation,
    RuleViolations,
    UnsafeFilterError,
    ValidationError,
)
from loom_django.core.tracing import get_trace_id

__all__ = [
    "INTERNAL_ERROR",
    "INTERNAL_MESSAGE",
    "QueryParamError",
    "RequestTooLarge",
    "UnsupportedMediaType",
    "error_body",
    "error_detail",
    "map_exception",
]

_log = logging.getLogger("loom_django.rest")
_encode = msgspec.json.Encoder().encode

INTERNAL_ERROR = "internal_error"
"""Code of every unexpected exception."""

INTERNAL_MESSAGE = "An unexpected error occurred"
"""The only message an unexpected exception ever shows a client."""


class QueryParamError(BadRequest):
    """A malformed query parameter (pagination, sort, filter, profile, page/limit): 400."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.args = (message, param)


class RequestTooLarge(LoomError):
    """The request body exceeds the configured maximum size (HTTP 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"Request body exceeds the maximum size of {limit} bytes.", code="payload_too_large"
        )
        self.limit = limit
        self.args = (limit,)

    @property
    def status_code(self) -> int:
        """Always 413."""
        return 413


class UnsupportedMediaType(LoomError):
    """A request body whose Content-Type is not JSON (HTTP 415).

    Browsers send ``text/plain``, form and multipart bodies cross-site without a CORS
    preflight; refusing them keeps such requests away from use cases.
    """

    def __init__(self, content_type: str) -> None:
        media = content_type.partition(";")[0].strip()[:100]
        super().__init__(
            f"Unsupported Content-Type {media!r}: send the body as application/json.",
            code=ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        )
        self.content_type = media
        self.args = (media,)


def error_detail(code: str, message: str, **extras: Any) -> dict[str, Any]:
    """The ``detail`` object for ``code``/``message``, with the current trace id and extras."""
    detail: dict[str, Any] = {"code": code, "message": message, "trace_id": get_trace_id()}
    detail.update(extras)
    return detail


def error_body(status: int, detail: dict[str, Any]) -> bytes:
    """Encode ``{"detail": detail}`` (status is accepted for symmetry with the views)."""
    return _encode({"detail": detail})


def _violations(items: Any) -> list[dict[str, str]]:
    return [{"field": v.field, "message": v.message} for v in items]


def _loom_detail(exc: LoomError) -> dict[str, Any]:
    if isinstance(exc, NotFound):
        return error_detail(exc.code, exc.message, entity=exc.entity, id=_jsonable(exc.id))
    if isinstance(exc, RuleViolations):
        return error_detail(exc.code, exc.message, violations=_violations(exc.violations))
    if isinstance(exc, RuleViolation):
        return error_detail(exc.code, exc.message, violations=_violations([exc]))
    if isinstance(exc, ValidationError):
        return error_detail(exc.code, exc.message, violations=_violations(exc.violations))
    param = getattr(exc, "param", None)
    if param is not None:
        return error_detail(exc.code, exc.message, param=param)
    return error_detail(exc.code, exc.message)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    try:
        return msgspec.to_builtins(value)
    except TypeError:
        return str(value)


def map_exception(exc: BaseException) -> tuple[int, dict[str, Any]] | None:
    """``(status, detail)`` for an exception with a defined HTTP meaning, else ``None``.

    ``None`` means "unexpected": the caller logs it and answers 500 ``internal_error``.
    """
    if isinstance(exc, LoomError):
        return exc.status_code, _loom_detail(exc)
    if isinstance(exc, FilterPathError):
        return 400, error_detail(ErrorCode.BAD_REQUEST, str(exc), param=exc.path)
    if isinstance(exc, UnsafeFilterError):
        return 400, error_detail(ErrorCode.BAD_REQUEST, str(exc), param=exc.field)
    if isinstance(exc, OverflowError):
        message = "A numeric value is out of range for the database."
        return 422, error_detail(
            ErrorCode.VALIDATION_ERROR, message, violations=[{"field": "$", "message": message}]
        )
    return _map_django(exc)


def _map_django(exc: BaseException) -> tuple[int, dict[str, Any]] | None:
    from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
    from django.db import DataError
    from django.http import Http404

    if isinstance(exc, RequestDataTooBig):
        return 413, error_detail("payload_too_large", "Request body is too large.")
    if isinstance(exc, DataError):
        # The database's text may quote values and schema names: log it, answer a
        # stable message.
        _log.info("database rejected a value (trace_id=%s): %s", get_trace_id(), exc)
        message = "A value is not valid for the database."
        return 422, error_detail(
            ErrorCode.VALIDATION_ERROR, message, violations=[{"field": "$", "message": message}]
        )
    if isinstance(exc, PermissionDenied):
        return 403, error_detail(ErrorCode.FORBIDDEN, str(exc) or "Forbidden")
    if isinstance(exc, Http404):
        return 404, error_detail(ErrorCode.NOT_FOUND, str(exc) or "Not Found")
    if isinstance(exc, SuspiciousOperation):
        return 400, error_detail(ErrorCode.BAD_REQUEST, "Bad request")
    return None


def log_unexpected(exc: BaseException, request: Any = None) -> None:
    """Log an unexpected exception with its traceback and tell Django's error signal."""
    _log.error("Unhandled exception (trace_id=%s): %r", get_trace_id(), exc, exc_info=exc)
    from django.core.signals import got_request_exception

    got_request_exception.send(sender=None, request=request)
