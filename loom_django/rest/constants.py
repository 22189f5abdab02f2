"""Constants of the REST door: reserved query parameters, limits and the auth sentinel."""

from __future__ import annotations

from typing import Final

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_PAGE",
    "MAX_LIMIT",
    "NOT_SET",
    "RESERVED_QUERY_PARAMS",
    "NotSetType",
]

DEFAULT_LIMIT: Final = 50
"""Page size when the client sends no ``limit`` (``app.rest.default_limit``)."""

MAX_LIMIT: Final = 1000
"""Largest page size served; larger ``limit`` values are clamped (``app.rest.max_limit``)."""

MAX_PAGE: Final = 2**31 - 1
"""Largest page number accepted (keeps ``(page - 1) * limit`` inside a 64-bit OFFSET)."""

RESERVED_QUERY_PARAMS: Final = frozenset(
    {"page", "limit", "pagination", "after", "cursor", "sort", "direction", "profile", "count"}
)
"""Query parameters of list routes that are never filters."""


class NotSetType:
    """Type of :data:`NOT_SET`: "inherit from the enclosing level" (``None`` means public)."""

    _instance: NotSetType | None = None

    def __new__(cls) -> NotSetType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_SET"

    def __bool__(self) -> bool:
        return False


NOT_SET: Final = NotSetType()
"""Marks an ``auth`` (or ``permissions``) that inherits from the interface or the API."""
