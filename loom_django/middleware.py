"""HTTP middleware: the trace id of every request (adopted from a header or generated)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponseBase

from loom_django.core.tracing import generate_trace_id, reset_trace_id, set_trace_id

__all__ = ["TraceIdMiddleware"]

_MAX_LENGTH = 128


def _trace_enabled() -> bool:
    from omegaconf import OmegaConf

    from loom_django.conf import conf

    try:
        value = OmegaConf.select(conf.loom_config(), "trace.enabled", default=True)
    except Exception:
        return True
    return value is None or bool(value)


class TraceIdMiddleware:
    """Sets the request's trace id and echoes it in the response header.

    The header (``LOOM["TRACE_HEADER"]``, default ``X-Request-ID``) is adopted when present
    and non-empty; otherwise a 32-hex id is generated. The id is bound to the trace-id
    context variable for the duration of the request (logs, error bodies, jobs).
    Works in sync and async stacks without a thread hop. ``trace.enabled: false`` in the
    loom config removes it.
    """

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase]
        | Callable[[HttpRequest], Awaitable[HttpResponseBase]],
    ) -> None:
        from loom_django.conf import conf

        if not _trace_enabled():
            raise MiddlewareNotUsed("trace.enabled is false")
        self.get_response: Any = get_response
        self.header = conf.TRACE_HEADER
        self.meta_key = "HTTP_" + self.header.upper().replace("-", "_")
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def _trace_id(self, request: HttpRequest) -> str:
        raw = request.META.get(self.meta_key)
        if raw:
            value = str(raw).strip()[:_MAX_LENGTH]
            if value and value.isprintable():
                return value
        return generate_trace_id()

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        trace_id = self._trace_id(request)
        token = set_trace_id(trace_id)
        try:
            response: HttpResponseBase = self.get_response(request)
        finally:
            reset_trace_id(token)
        response[self.header] = trace_id
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        trace_id = self._trace_id(request)
        token = set_trace_id(trace_id)
        try:
            response: HttpResponseBase = await self.get_response(request)
        finally:
            reset_trace_id(token)
        response[self.header] = trace_id
        return response
