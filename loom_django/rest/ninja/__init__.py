"""The django-ninja adapter: ``create_api``/``get_api`` build the URLs of every interface."""

from __future__ import annotations

from loom_django.extras import require

require("ninja", extra="rest")

from loom_django.rest.ninja.api import LoomNinjaAPI, create_api, get_api, reset_api
from loom_django.rest.ninja.security import (
    NotAuthenticated,
    PermissionDeniedError,
    check_permissions,
)

__all__ = [
    "LoomNinjaAPI",
    "NotAuthenticated",
    "PermissionDeniedError",
    "check_permissions",
    "create_api",
    "get_api",
    "reset_api",
]
