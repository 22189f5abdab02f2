"""Repository contracts: capability protocols, generic repository protocols, query types."""

from __future__ import annotations

from loom_django.core.repository.abc.capabilities import (
    CAPABILITIES,
    Countable,
    Creatable,
    Deletable,
    Listable,
    Readable,
    RepoFor,
    Updatable,
)
from loom_django.core.repository.abc.query import (
    MAX_LIMIT,
    CursorResult,
    FilterGroup,
    FilterOp,
    FilterParams,
    FilterSpec,
    PageParams,
    PageResult,
    PaginationMode,
    QuerySpec,
    SortSpec,
    build_page_result,
)
from loom_django.core.repository.abc.repository import (
    Repository,
    RepositoryRead,
    RepositoryWrite,
)

__all__ = [
    "CAPABILITIES",
    "MAX_LIMIT",
    "Countable",
    "Creatable",
    "CursorResult",
    "Deletable",
    "FilterGroup",
    "FilterOp",
    "FilterParams",
    "FilterSpec",
    "Listable",
    "PageParams",
    "PageResult",
    "PaginationMode",
    "QuerySpec",
    "Readable",
    "RepoFor",
    "Repository",
    "RepositoryRead",
    "RepositoryWrite",
    "SortSpec",
    "Updatable",
    "build_page_result",
]
