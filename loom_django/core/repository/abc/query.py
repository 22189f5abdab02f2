"""The query language: filters, sorting, pagination requests and paged results."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeAlias, TypeVar

import msgspec

__all__ = [
    "MAX_LIMIT",
    "CursorResult",
    "FilterGroup",
    "FilterOp",
    "FilterParams",
    "FilterSpec",
    "PageParams",
    "PageResult",
    "PaginationMode",
    "QuerySpec",
    "SortSpec",
    "build_page_result",
]

M = TypeVar("M")
M_co = TypeVar("M_co", covariant=True)

MAX_LIMIT = 1000
"""Largest page size a repository serves; larger ``QuerySpec.limit`` values are clamped."""


class PaginationMode(StrEnum):
    """How a list query pages: by page number or by an opaque keyset cursor."""

    OFFSET = "offset"
    CURSOR = "cursor"


class FilterOp(StrEnum):
    """Comparison operators available to :class:`FilterSpec`."""

    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IN = "in"
    LIKE = "like"
    ILIKE = "ilike"
    IS_NULL = "is_null"
    EXISTS = "exists"
    NOT_EXISTS = "not_exists"


class FilterSpec(msgspec.Struct, frozen=True):
    """One condition: ``field`` (a column or ``relation.column`` path) ``op`` ``value``."""

    field: str
    op: FilterOp
    value: Any = None


if TYPE_CHECKING:
    FilterNode: TypeAlias = "FilterSpec | FilterGroup"
else:
    # msgspec cannot decode a union of untagged structs, so entries are typed Any for
    # msgspec and turned into FilterSpec/FilterGroup by FilterGroup.__post_init__.
    FilterNode = Any


class FilterGroup(msgspec.Struct, frozen=True):
    """Conditions combined with AND or OR; ``filters`` may hold nested groups.

    Entries decoded from JSON/dicts become :class:`FilterGroup` when they have a
    ``filters`` key and :class:`FilterSpec` otherwise.
    """

    filters: tuple[FilterNode, ...]
    op: Literal["AND", "OR"] = "AND"

    def __post_init__(self) -> None:
        if any(isinstance(entry, Mapping) for entry in self.filters):
            nodes = tuple(_node(entry) for entry in self.filters)
            msgspec.structs.force_setattr(self, "filters", nodes)


def _node(entry: Any) -> FilterSpec | FilterGroup:
    if not isinstance(entry, Mapping):
        return entry  # type: ignore[no-any-return]
    if "filters" in entry:
        return msgspec.convert(entry, FilterGroup)
    return msgspec.convert(entry, FilterSpec)


class SortSpec(msgspec.Struct, frozen=True):
    """One ordering key."""

    field: str
    direction: Literal["ASC", "DESC"] = "ASC"


class QuerySpec(msgspec.Struct, frozen=True):
    """A structured list request: filters, ordering and pagination."""

    filters: FilterGroup | None = None
    sort: tuple[SortSpec, ...] = ()
    pagination: PaginationMode = PaginationMode.OFFSET
    limit: int = 50
    page: int = 1
    cursor: str | None = None
    count: bool = True
    """Offset mode only: False skips counting (``total_count`` is then ``None``)."""


class PageResult(msgspec.Struct, Generic[M_co], frozen=True, rename="camel"):
    """One page in offset mode; ``total_count`` counts every matching row (``None`` when the
    query asked not to count)."""

    items: tuple[M_co, ...]
    total_count: int | None
    page: int
    limit: int
    has_next: bool


class CursorResult(msgspec.Struct, Generic[M_co], frozen=True, rename="camel"):
    """One page in cursor mode; ``next_cursor`` is ``None`` on the last page."""

    items: tuple[M_co, ...]
    next_cursor: str | None
    has_next: bool


class PageParams(msgspec.Struct, frozen=True):
    """Page number and size of ``list_paginated``.

    Raises:
        ValueError: ``page < 1`` or ``limit`` outside ``1..1000``.
    """

    page: int = 1
    limit: int = 50

    def __post_init__(self) -> None:
        if self.page < 1:
            raise ValueError(f"page must be >= 1 (got {self.page})")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT} (got {self.limit})")

    @property
    def offset(self) -> int:
        """Rows skipped before this page: ``(page - 1) * limit``."""
        return (self.page - 1) * self.limit


class FilterParams(msgspec.Struct, frozen=True):
    """Equality filters of ``list_paginated``: ``{column: value}``."""

    filters: Mapping[str, Any] = msgspec.field(default_factory=dict)


def build_page_result(
    items: Iterable[M], total_count: int, page_params: PageParams
) -> PageResult[M]:
    """Wrap one page of ``items`` with its paging facts (``has_next`` from the total)."""
    rows = tuple(items)
    return PageResult(
        items=rows,
        total_count=total_count,
        page=page_params.page,
        limit=page_params.limit,
        has_next=page_params.offset + len(rows) < total_count,
    )
