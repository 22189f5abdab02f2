"""List URL conventions: query string → QuerySpec (filters, sort, pagination) and profiles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import msgspec

from loom_django.core.engine.coercion import parse_int
from loom_django.core.errors import InterfaceCompilationError
from loom_django.core.repository.abc.query import (
    FilterGroup,
    FilterOp,
    FilterSpec,
    PaginationMode,
    QuerySpec,
    SortSpec,
)
from loom_django.rest.constants import MAX_PAGE, RESERVED_QUERY_PARAMS
from loom_django.rest.errors import QueryParamError
from loom_django.rest.naming import camel_to_snake

__all__ = [
    "FieldCatalog",
    "ListQueryParser",
    "ProfilePolicy",
    "apply_query_policy",
    "coerce_kernel_value",
]

_OPS = {op.value: op for op in FilterOp}
_BOOL_OPS = frozenset({FilterOp.IS_NULL, FilterOp.EXISTS, FilterOp.NOT_EXISTS})
_RAW_OPS = frozenset({FilterOp.LIKE, FilterOp.ILIKE})


def coerce_kernel_value(raw: str) -> Any:
    """The kernel's coercion: ``true``/``false`` → bool, ``1.5`` → float, ``7`` → int.

    Only canonical integers (ASCII digits, optional sign) become ints; ``1_0`` or a fullwidth digit
    stay strings.
    """
    lowered = raw.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    if "." in raw:
        try:
            return float(raw)
        except ValueError:
            return raw
    parsed = parse_int(raw)
    return raw if parsed is None else parsed


@dataclass(frozen=True)
class FieldCatalog:
    """What a list route knows about its model: column types and relation names."""

    columns: Mapping[str, Any]
    relations: frozenset[str]

    @classmethod
    def for_model(cls, model: type[Any] | None) -> FieldCatalog | None:
        """The catalog of a loom model, or ``None`` when the route has no model.

        Raises:
            InterfaceCompilationError: the model's columns cannot be read. Startup stops
                rather than serving the route without its filter and sort checks.
        """
        if model is None:
            return None
        from loom_django.core.model import get_column_fields, get_projections, get_relations

        try:
            columns = {name: info.python_type for name, info in get_column_fields(model).items()}
            relations = frozenset(get_relations(model)) | frozenset(get_projections(model))
        except Exception as exc:
            name = getattr(model, "__qualname__", repr(model))
            raise InterfaceCompilationError(
                f"{name}: its columns cannot be read for list filtering and sorting: {exc}"
            ) from exc
        return cls(columns=columns, relations=relations)


class ListQueryParser:
    """Builds the QuerySpec of one list route from its query string; configured at startup."""

    def __init__(
        self,
        *,
        catalog: FieldCatalog | None,
        pagination_mode: PaginationMode,
        allow_override: bool,
        default_limit: int,
        max_limit: int,
        filterable: Iterable[str] | None = None,
        sortable: Iterable[str] | None = None,
        consumed: Iterable[str] = (),
        hidden: Iterable[str] = (),
    ) -> None:
        self.catalog = catalog
        self.pagination_mode = pagination_mode
        self.allow_override = allow_override
        self.default_limit = default_limit
        self.max_limit = max_limit
        self.filterable = None if filterable is None else frozenset(filterable)
        self.sortable = None if sortable is None else frozenset(sortable)
        self.skip = RESERVED_QUERY_PARAMS | frozenset(consumed)
        self.hidden = frozenset(hidden)
        """Columns the route's responses do not show: never sortable (cursors would carry
        their values), filterable only when ``filterable`` names them."""
        self._converters: dict[Any, Any] = {}

    def parse(self, query: Any) -> QuerySpec:
        """``query`` is a Django ``QueryDict`` (or a mapping of lists).

        Raises:
            QueryParamError: a malformed page/limit/pagination/sort/direction/cursor/filter.
        """
        get = query.get
        page = self._positive("page", get("page"), 1)
        if page > MAX_PAGE:
            raise QueryParamError(
                f"Query parameter 'page' must be <= {MAX_PAGE}, got {page}.", param="page"
            )
        limit = min(self._positive("limit", get("limit"), self.default_limit), self.max_limit)
        direction = (get("direction") or "ASC").upper()
        if direction not in ("ASC", "DESC"):
            raise QueryParamError("direction must be 'ASC' or 'DESC'.", param="direction")
        sort = self._sort(get("sort"), direction)
        cursor = get("after") or get("cursor") or None
        mode = self._mode(get("pagination"), cursor)
        if mode is PaginationMode.OFFSET:
            cursor = None
        filters = self._filters(query)
        count = self._flag("count", get("count"), default=True)
        return QuerySpec(
            filters=FilterGroup(filters=tuple(filters)) if filters else None,
            sort=sort,
            pagination=mode,
            limit=limit,
            page=page,
            cursor=cursor,
            count=count,
        )

    @staticmethod
    def _flag(name: str, raw: str | None, *, default: bool) -> bool:
        if raw is None or raw == "":
            return default
        lowered = raw.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise QueryParamError(
            f"Query parameter '{name}' must be true or false, got {raw!r}.", param=name
        )

    @staticmethod
    def _positive(name: str, raw: str | None, default: int) -> int:
        if raw is None or raw == "":
            return default
        value = parse_int(raw)
        if value is None:
            raise QueryParamError(
                f"Query parameter '{name}' must be a positive integer, got {raw[:40]!r}.",
                param=name,
            )
        if value < 1:
            raise QueryParamError(
                f"Query parameter '{name}' must be >= 1, got {value}.", param=name
            )
        return value

    def _mode(self, raw: str | None, cursor: str | None) -> PaginationMode:
        effective = self.pagination_mode
        if raw is not None and raw != "":
            try:
                requested = PaginationMode(raw.lower())
            except ValueError:
                raise QueryParamError(
                    f"Invalid pagination mode: '{raw}'.", param="pagination"
                ) from None
        else:
            requested = None
        if self.allow_override:
            if requested is not None:
                return requested
            return PaginationMode.CURSOR if cursor else effective
        if requested is not None and requested is not effective:
            raise QueryParamError(
                "Query parameter 'pagination' cannot override this route's default mode "
                f"('{effective.value}').",
                param="pagination",
            )
        if cursor and effective is PaginationMode.OFFSET:
            raise QueryParamError(
                "Cursor parameters are not allowed when pagination mode is fixed to 'offset'.",
                param="after",
            )
        return effective

    def _sort(self, raw: str | None, direction: str) -> tuple[SortSpec, ...]:
        if not raw:
            return ()
        specs: list[SortSpec] = []
        for item in raw.split(","):
            item = item.strip()
            if not item:
                continue
            item_direction = direction
            if item.startswith("-"):
                item, item_direction = item[1:], "DESC"
            name = camel_to_snake(item)
            self._check_sort_field(name, item)
            specs.append(SortSpec(field=name, direction=item_direction))  # type: ignore[arg-type]
        return tuple(specs)

    def _check_sort_field(self, name: str, raw: str) -> None:
        if name in self.hidden or (self.sortable is not None and name not in self.sortable):
            raise QueryParamError(f"Sorting on field '{raw}' is not allowed.", param="sort")
        if self.catalog is not None and name not in self.catalog.columns:
            raise QueryParamError(f"Invalid sort field: '{raw}'.", param="sort")

    def _filters(self, query: Any) -> list[FilterSpec]:
        skip = self.skip
        filters: list[FilterSpec] = []
        for key, values in query.lists():
            if key in skip:
                continue
            field, op = self._split_key(key)
            for raw in values:
                filters.append(
                    FilterSpec(field=field, op=op, value=self._value(key, field, op, raw))
                )
        return filters

    def _split_key(self, key: str) -> tuple[str, FilterOp]:
        parts = key.split("__")
        op = _OPS.get(parts[-1].lower()) if len(parts) > 1 else None
        if op is not None:
            parts = parts[:-1]
        else:
            op = FilterOp.EQ
        if not parts or any(not part for part in parts):
            raise QueryParamError(f"Invalid filter field: '{key}'.", param=key)
        path = ".".join(camel_to_snake(part) for part in parts)
        self._check_filter_field(key, path)
        return path, op

    def _check_filter_field(self, key: str, path: str) -> None:
        root = path.split(".", 1)[0]
        declared = self.filterable is not None and (
            path in self.filterable or root in self.filterable
        )
        if (self.filterable is not None and not declared) or (root in self.hidden and not declared):
            raise QueryParamError(f"Filtering on field '{path}' is not allowed.", param=key)
        catalog = self.catalog
        if catalog is None:
            return
        if root in catalog.columns:
            if root != path:
                raise QueryParamError(f"Unknown filter field: '{path}'.", param=key)
            return
        if root not in catalog.relations:
            raise QueryParamError(f"Unknown filter field: '{path}'.", param=key)

    def _value(self, key: str, field: str, op: FilterOp, raw: str) -> Any:
        if "\x00" in raw:
            raise QueryParamError(
                f"Invalid value for filter '{key}': NUL characters are not allowed.", param=key
            )
        if op in _RAW_OPS:
            return raw
        if op in _BOOL_OPS:
            return coerce_kernel_value(raw)
        target = self.catalog.columns.get(field) if self.catalog is not None else None
        if op is FilterOp.IN:
            return [self._coerce(key, target, item) for item in raw.split(",") if item != ""]
        return self._coerce(key, target, raw)

    def _coerce(self, key: str, target: Any, raw: str) -> Any:
        if target is None or target is Any:
            return coerce_kernel_value(raw)
        if target is str:
            return raw
        if target is int:
            parsed = parse_int(raw)
            if parsed is None:
                raise QueryParamError(
                    f"Invalid value for filter '{key}': expected int, got {raw[:40]!r}.",
                    param=key,
                )
            return parsed
        try:
            return msgspec.convert(raw, target, strict=False)
        except (msgspec.ValidationError, TypeError):
            name = getattr(target, "__name__", str(target))
            raise QueryParamError(
                f"Invalid value for filter '{key}': expected {name}, got {raw!r}.", param=key
            ) from None


def apply_query_policy(routes: Sequence[Any], query_fields: str) -> tuple[Any, ...]:
    """``routes`` (compiled) under ``app.rest.query_fields``: with ``"declared"`` an
    undeclared ``filterable``/``sortable`` becomes empty (nothing is filterable or
    sortable unless named)."""
    if query_fields != "declared":
        return tuple(routes)
    return tuple(
        replace(
            route,
            filterable=() if route.filterable is None else route.filterable,
            sortable=() if route.sortable is None else route.sortable,
        )
        if route.is_list
        else route
        for route in routes
    )


class ProfilePolicy:
    """Resolves the ``profile`` query parameter of one route (spec §4.6)."""

    __slots__ = ("allowed", "default", "exposed")

    def __init__(self, *, default: str, allowed: tuple[str, ...], exposed: bool) -> None:
        self.default = default
        self.allowed = allowed
        self.exposed = exposed

    def resolve(self, raw: str | None) -> str:
        """The profile to use.

        Raises:
            QueryParamError: profiles are not exposed, or ``raw`` is not allowed.
        """
        if raw is None:
            return self.default
        if not self.exposed:
            raise QueryParamError(
                "Query parameter 'profile' is not allowed for this route.", param="profile"
            )
        if raw not in self.allowed:
            raise QueryParamError(
                f"Invalid profile '{raw}'. Allowed: {', '.join(self.allowed)}", param="profile"
            )
        return raw
