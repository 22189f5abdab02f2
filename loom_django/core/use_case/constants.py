"""Constants of the use-case layer: the auto-CRUD operations."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CrudOp"]


class CrudOp(StrEnum):
    """The five operations every mapped model gets as generated use cases."""

    CREATE = "create"
    GET = "get"
    LIST = "list"
    UPDATE = "update"
    DELETE = "delete"
