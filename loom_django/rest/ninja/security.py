"""Authorization after authentication: Django permission names or callables (401/403)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest

from loom_django.core.errors import ErrorCode, LoomError
from loom_django.rest.model import Permission

__all__ = ["NotAuthenticated", "PermissionDeniedError", "check_permissions", "principal_of"]


class NotAuthenticated(LoomError):
    """No credentials (or invalid ones) were presented (HTTP 401)."""

    def __init__(self, message: str = "Authentication required") -> None:
        super().__init__(message, code="unauthorized")
        self.args = (message,)

    @property
    def status_code(self) -> int:
        """Always 401."""
        return 401


class PermissionDeniedError(LoomError):
    """The authenticated caller lacks a required permission (HTTP 403)."""

    def __init__(self, message: str = "You do not have permission to perform this action.") -> None:
        super().__init__(message, code=ErrorCode.FORBIDDEN)
        self.args = (message,)


def principal_of(request: HttpRequest) -> Any:
    """The user the permissions are checked on: ``request.auth`` if it is a user, else
    ``request.user`` (session authentication)."""
    auth = getattr(request, "auth", None)
    if auth is not None and hasattr(auth, "has_perm"):
        return auth
    return getattr(request, "user", None)


def check_permissions(request: HttpRequest, permissions: Sequence[Permission]) -> None:
    """Raise unless every permission holds for the request's principal.

    A string is a Django permission name checked with ``user.has_perm``; a callable gets
    the request and must return a truthy value.

    Raises:
        NotAuthenticated: a permission failed and nobody is authenticated.
        PermissionDeniedError: a permission failed for an authenticated caller.
    """
    user = principal_of(request)
    for permission in permissions:
        if callable(permission):
            allowed = bool(permission(request))
        else:
            allowed = user is not None and bool(user.has_perm(permission))
        if not allowed:
            authenticated = getattr(request, "auth", None) is not None or bool(
                getattr(user, "is_authenticated", False)
            )
            if not authenticated:
                raise NotAuthenticated()
            raise PermissionDeniedError()
