"""Django's CSRF check wherever a cookie may authenticate an unsafe request.

Loom views are CSRF-exempt so header-authenticated API clients (bearer tokens, API keys)
never need a token. The exemption must not open a hole for cookie sessions: whenever the
caller's identity may come from a cookie (a permission checked on ``request.user``, an
auth callable or cookie auth class that reads the session), an unsafe request runs
Django's own ``CsrfViewMiddleware`` check, exactly as a plain Django view would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware
from ninja.security import APIKeyHeader, APIKeyQuery, HttpBasicAuth, HttpBearer

from loom_django.rest.model import Permission

__all__ = ["CookieTrust", "CsrfFailed", "csrf_failure_reason", "cookie_trust"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

_HEADER_CREDENTIALS = (HttpBearer, HttpBasicAuth, APIKeyHeader, APIKeyQuery)
"""Ninja auth classes whose principal comes from a header or the query, never a cookie."""


class CsrfFailed(PermissionDenied):
    """An unsafe request authenticated by a cookie failed Django's CSRF check (HTTP 403)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"CSRF verification failed: {self.reason}"


class CookieTrust:
    """How one route's principal may come from a cookie, decided once at startup.

    Attributes:
        any_cookie: an auth callback that is not a header credential may read any cookie.
        session_permissions: the route's permissions may be checked on ``request.user``.
        callable_permissions: a permission callable gets the request (and its session).
    """

    __slots__ = ("any_cookie", "callable_permissions", "session_permissions")

    def __init__(self, auth_callbacks: Sequence[Any], permissions: Sequence[Permission]) -> None:
        self.any_cookie = any(not isinstance(cb, _HEADER_CREDENTIALS) for cb in auth_callbacks)
        self.session_permissions = bool(permissions)
        self.callable_permissions = any(callable(p) for p in permissions)

    @property
    def matters(self) -> bool:
        """Whether any request to the route could be authenticated by a cookie."""
        return self.any_cookie or self.session_permissions

    def must_check(self, request: HttpRequest) -> bool:
        """Whether ``request`` (already authenticated by ninja) needs the CSRF check."""
        if request.method in SAFE_METHODS or not request.COOKIES:
            return False
        if self.any_cookie:
            return True
        if not self.session_permissions or settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return False
        if self.callable_permissions:
            return True
        auth = getattr(request, "auth", None)
        return not (auth is not None and hasattr(auth, "has_perm"))


def cookie_trust(auth_callbacks: Sequence[Any], permissions: Sequence[Permission]) -> CookieTrust:
    """The :class:`CookieTrust` of a route with these ninja auth callbacks and permissions."""
    return CookieTrust(auth_callbacks, permissions)


class _Check(CsrfViewMiddleware):
    """Django's CSRF middleware, answering the rejection reason instead of a page."""

    def _reject(self, request: HttpRequest, reason: str) -> Any:
        return reason


def _no_view(request: HttpRequest) -> Any:  # pragma: no cover - never called
    return None


def csrf_failure_reason(request: HttpRequest) -> str | None:
    """Run Django's CSRF check on ``request``; the rejection reason, or ``None`` if it passed."""
    check = _Check(_no_view)
    request.csrf_processing_done = False  # type: ignore[attr-defined]
    check.process_request(request)
    reason: Any = check.process_view(request, _no_view, (), {})
    return reason if isinstance(reason, str) else None
