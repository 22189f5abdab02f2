"""The REST door: interfaces and routes served by django-ninja with msgspec on the wire."""

from __future__ import annotations

from loom_django.rest.autocrud import build_auto_routes
from loom_django.rest.compiler import CompiledRoute, compile_interfaces
from loom_django.rest.constants import NOT_SET
from loom_django.rest.model import (
    PaginationMode,
    RestApiDefaults,
    RestInterface,
    RestRoute,
)

__all__ = [
    "NOT_SET",
    "CompiledRoute",
    "PaginationMode",
    "RestApiDefaults",
    "RestInterface",
    "RestRoute",
    "build_auto_routes",
    "compile_interfaces",
]
