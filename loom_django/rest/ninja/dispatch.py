"""URL patterns of the loom API: one dispatcher per path, literal segments first.

Django dispatches to these callables directly, so ninja's per-request parameter models
are skipped; ninja's bound operations still run authentication, CSRF and throttling.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, include, path, re_path
from ninja.operation import Operation

from loom_django.rest.errors import error_body, error_detail
from loom_django.rest.ninja.csrf import CookieTrust, CsrfFailed, csrf_failure_reason
from loom_django.rest.ninja.security import check_permissions
from loom_django.rest.ninja.views import RouteHandlers, error_response

__all__ = [
    "MethodEntry",
    "allowed_methods",
    "method_not_allowed",
    "without_body",
    "build_patterns",
    "catch_all",
    "PathDispatcher",
    "django_route",
    "exclude_from_atomic_requests",
    "not_found_view",
    "route_sort_key",
]

_PLACEHOLDER = re.compile(r"{([^{}/]+)}")
_JSON = "application/json"


@dataclass(frozen=True)
class MethodEntry:
    """One method of a path: the bound ninja operation (auth) and the loom handlers."""

    operation: Any
    handlers: RouteHandlers
    is_async: bool
    cookies: CookieTrust = field(init=False)
    needs_checks: bool = field(init=False)
    async_auth: bool = field(init=False)

    def __post_init__(self) -> None:
        op = self.operation
        permissions = self.handlers.route.permissions
        cookies = CookieTrust(op.auth_callbacks or (), permissions)
        object.__setattr__(self, "cookies", cookies)
        needs = bool(op.auth_callbacks or op.throttle_objects or permissions or cookies.matters)
        object.__setattr__(self, "needs_checks", needs)
        callbacks = op.auth_callbacks or ()
        async_auth = any(_is_async_callback(cb) for cb in callbacks)
        object.__setattr__(self, "async_auth", async_auth and iscoroutinefunction(op._run_checks))


def _is_async_callback(callback: Any) -> bool:
    """Whether a ninja auth callback is a coroutine (ninja's own test, ``is_async``)."""
    return iscoroutinefunction(callback) or bool(getattr(callback, "is_async", False))


def django_route(full_path: str) -> str:
    """``/users/{user_id}/addresses/`` → ``users/<user_id>/addresses/`` (Django syntax)."""
    return _PLACEHOLDER.sub(r"<\1>", full_path).lstrip("/")


def route_sort_key(full_path: str) -> tuple[int, ...]:
    """Literal segments sort before placeholders at the first position where paths differ."""
    segments = full_path.strip("/").split("/")
    return tuple(1 if s[:1] in ("{", "<") else 0 for s in segments)


def allowed_methods(methods: Iterable[str]) -> tuple[str, ...]:
    """``methods`` plus ``HEAD`` when ``GET`` is among them (HEAD follows GET)."""
    allowed = tuple(methods)
    if "GET" in allowed and "HEAD" not in allowed:
        allowed += ("HEAD",)
    return allowed


def without_body(response: HttpResponse) -> HttpResponse:
    """The answer to a HEAD request: GET's status and headers, no body."""
    if not response.streaming:
        length = len(response.content)
        response.content = b""
        response["Content-Length"] = str(length)
    return response


def method_not_allowed(allowed: Iterable[str]) -> HttpResponse:
    """405 in the loom envelope with the ``Allow`` header."""
    detail = error_detail("method_not_allowed", "Method Not Allowed")
    response = HttpResponse(error_body(405, detail), status=405, content_type=_JSON)
    response["Allow"] = ", ".join(allowed)
    return response


def not_found_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """The loom JSON 404 for unknown paths under the API mount."""
    detail = error_detail("not_found", "Not Found")
    return HttpResponse(error_body(404, detail), status=404, content_type=_JSON)


def exclude_from_atomic_requests(view: Any) -> Any:
    """Mark ``view`` so Django never wraps it in ``ATOMIC_REQUESTS`` (loom owns transactions)."""
    view._non_atomic_requests = set(connections)
    return view


class PathDispatcher:
    """Calls the handler of the request's method; 405 in the loom envelope otherwise."""

    def __init__(self, entries: dict[str, MethodEntry]) -> None:
        self.entries = dict(entries)
        if "GET" in entries and "HEAD" not in entries:
            self.entries["HEAD"] = entries["GET"]
        self.allowed = allowed_methods(entries)
        self.is_async = any(entry.is_async for entry in entries.values())

    def view(self) -> Any:
        """The Django view callable (sync or async as the operations need).

        The async view crosses into a worker thread at most once: authentication that is
        a coroutine runs on the loop, everything else (the remaining checks and the
        execution with its queries) in one ``sync_to_async`` call.
        """
        entries = self.entries
        allowed = self.allowed

        def sync_view(request: HttpRequest, **path: Any) -> HttpResponse:
            entry = entries.get(request.method or "")
            if entry is None:
                return method_not_allowed(allowed)
            return _serve_sync(entry, request, path, authenticate=True)

        serve_in_thread = sync_to_async(_serve_sync, thread_sensitive=True)

        async def async_view(request: HttpRequest, **path: Any) -> HttpResponse:
            entry = entries.get(request.method or "")
            if entry is None:
                return method_not_allowed(allowed)
            if entry.async_auth:
                denied: HttpResponse | None = await entry.operation._run_checks(request)
                if denied is not None:
                    return denied
                return await serve_in_thread(entry, request, path, authenticate=False)
            if entry.needs_checks or not entry.is_async:
                return await serve_in_thread(entry, request, path, authenticate=True)
            response = await entry.handlers.async_handler(request, path)
            return without_body(response) if request.method == "HEAD" else response

        view: Any = async_view if self.is_async else sync_view
        view.csrf_exempt = True
        return exclude_from_atomic_requests(view)


def _serve_sync(
    entry: MethodEntry, request: HttpRequest, path: dict[str, Any], *, authenticate: bool
) -> HttpResponse:
    """Checks (authentication unless already done) and the sync handler, on this thread."""
    if entry.needs_checks:
        denied = _run_checks_sync(entry, request, authenticate=authenticate)
        if denied is not None:
            return denied
    response = entry.handlers.sync_handler(request, path)
    return without_body(response) if request.method == "HEAD" else response


def _csrf_denial(entry: MethodEntry, request: HttpRequest) -> HttpResponse | None:
    """403 when a cookie may have authenticated this unsafe request and CSRF fails."""
    if not entry.cookies.must_check(request):
        return None
    reason = csrf_failure_reason(request)
    if reason is None:
        return None
    return error_response(CsrfFailed(reason), request)


def _ninja_checks(op: Any, request: HttpRequest) -> HttpResponse | None:
    """ninja's authentication and throttling, synchronously, for sync and async operations.

    ninja's async operation authenticates sync callbacks through ``sync_to_async``; run
    here, on the request's worker thread, they cost no extra hop.
    """
    if op.csrf_exempt:
        request._ninja_csrf_exempt = True  # type: ignore[attr-defined]
    if op.auth_callbacks:
        denied: HttpResponse | None = Operation._run_authentication(op, request)
        if denied is not None:
            return denied
    if op.throttle_objects:
        throttled: HttpResponse | None = op._check_throttles(request)
        return throttled
    return None


def _run_checks_sync(
    entry: MethodEntry, request: HttpRequest, *, authenticate: bool
) -> HttpResponse | None:
    denied: HttpResponse | None = None
    if authenticate:
        denied = _ninja_checks(entry.operation, request)
    if denied is None:
        denied = _csrf_denial(entry, request)
    if denied is not None:
        return denied
    permissions = entry.handlers.route.permissions
    if permissions:
        try:
            check_permissions(request, permissions)
        except Exception as exc:
            return error_response(exc, request)
    return None


def build_patterns(
    paths: Sequence[tuple[str, dict[str, MethodEntry]]], *, trailing_slash: str
) -> list[URLPattern | URLResolver]:
    """URL patterns for ``(full_path, entries)``, most specific first, with slash twins."""
    declared = {django_route(full) for full, _ in paths}
    routes: list[tuple[str, Any]] = []
    for full, entries in paths:
        view = PathDispatcher(entries).view()
        route = django_route(full)
        routes.append((route, view))
        if trailing_slash == "both" and route:
            twin = route[:-1] if route.endswith("/") else route + "/"
            if twin and twin not in declared:
                declared.add(twin)
                routes.append((twin, view))
    routes.sort(key=lambda item: route_sort_key(item[0]))
    return _grouped(routes)


def _grouped(routes: list[tuple[str, Any]]) -> list[URLPattern | URLResolver]:
    """Nest routes under their literal first segment so Django matches that prefix once."""
    groups: dict[str, list[tuple[str, Any]]] = {}
    for route, view in routes:
        head, slash, rest = route.partition("/")
        if slash and not head.startswith("<"):
            groups.setdefault(head, []).append((rest, view))
    result: list[URLPattern | URLResolver] = []
    emitted: set[str] = set()
    for route, view in routes:
        head, slash, _ = route.partition("/")
        if not slash or head.startswith("<"):
            result.append(path(route, view))
        elif head not in emitted:
            emitted.add(head)
            result.append(path(f"{head}/", include([path(r, v) for r, v in groups[head]])))
    return result


def catch_all() -> URLPattern:
    """The last pattern under the mount: loom JSON 404 for any unknown path."""
    pattern: URLPattern = re_path(r"^.*$", exclude_from_atomic_requests(not_found_view))
    return pattern
