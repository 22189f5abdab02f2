"""Query-language types: construction, defaults, validation and JSON shape."""

from __future__ import annotations

import msgspec
import pytest

from loom_django.core.repository.abc.query import (
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


def test_filter_op_values_match_the_wire_names() -> None:
    assert [op.value for op in FilterOp] == [
        "eq",
        "ne",
        "gt",
        "gte",
        "lt",
        "lte",
        "in",
        "like",
        "ilike",
        "is_null",
        "exists",
        "not_exists",
    ]


def test_pagination_modes() -> None:
    assert PaginationMode("offset") is PaginationMode.OFFSET
    assert PaginationMode("cursor") is PaginationMode.CURSOR


def test_filter_spec_accepts_positional_arguments() -> None:
    spec = FilterSpec("stock", FilterOp.LTE, 5)
    assert (spec.field, spec.op, spec.value) == ("stock", FilterOp.LTE, 5)


def test_filter_spec_value_defaults_to_none() -> None:
    assert FilterSpec(field="deleted_at", op=FilterOp.IS_NULL).value is None


def test_filter_group_defaults_to_and() -> None:
    assert FilterGroup(filters=()).op == "AND"


def test_filter_groups_may_nest() -> None:
    inner = FilterGroup((FilterSpec("a", FilterOp.EQ, 1), FilterSpec("b", FilterOp.EQ, 2)), "OR")
    outer = FilterGroup((FilterSpec("c", FilterOp.GT, 0), inner))
    decoded = msgspec.json.decode(msgspec.json.encode(outer), type=FilterGroup)
    assert decoded == outer


def test_sort_spec_defaults_to_ascending() -> None:
    assert SortSpec("stock").direction == "ASC"


def test_query_spec_defaults() -> None:
    query = QuerySpec()
    assert query.filters is None
    assert query.sort == ()
    assert query.pagination is PaginationMode.OFFSET
    assert (query.limit, query.page, query.cursor) == (50, 1, None)


def test_query_types_are_frozen() -> None:
    with pytest.raises(AttributeError):
        QuerySpec().limit = 3  # type: ignore[misc]


def test_page_result_json_is_camel_case() -> None:
    result = PageResult(items=(1, 2), total_count=5, page=1, limit=2, has_next=True)
    assert msgspec.json.decode(msgspec.json.encode(result)) == {
        "items": [1, 2],
        "totalCount": 5,
        "page": 1,
        "limit": 2,
        "hasNext": True,
    }


def test_cursor_result_json_includes_null_next_cursor() -> None:
    result: CursorResult[int] = CursorResult(items=(), next_cursor=None, has_next=False)
    assert msgspec.json.decode(msgspec.json.encode(result)) == {
        "items": [],
        "nextCursor": None,
        "hasNext": False,
    }


def test_page_params_offset() -> None:
    assert PageParams(page=3, limit=20).offset == 40


@pytest.mark.parametrize(("page", "limit"), [(0, 10), (1, 0), (1, 1001)])
def test_page_params_rejects_out_of_range_values(page: int, limit: int) -> None:
    with pytest.raises(ValueError):
        PageParams(page=page, limit=limit)


def test_filter_params_default_to_no_filters() -> None:
    assert dict(FilterParams().filters) == {}


def test_build_page_result_computes_has_next_from_total() -> None:
    result = build_page_result(["a", "b"], 5, PageParams(page=2, limit=2))
    assert result.items == ("a", "b")
    assert result.has_next is True
    last = build_page_result(["e"], 5, PageParams(page=3, limit=2))
    assert last.has_next is False


def test_query_spec_converts_from_plain_data_with_nested_groups() -> None:
    raw = {
        "filters": {
            "filters": [
                {"field": "a", "op": "eq", "value": 1},
                {"filters": [{"field": "b", "op": "in", "value": [1, 2]}], "op": "OR"},
            ]
        },
        "sort": [{"field": "a", "direction": "DESC"}],
        "pagination": "cursor",
    }
    query = msgspec.convert(raw, QuerySpec)
    assert query.filters is not None
    first, nested = query.filters.filters
    assert first == FilterSpec("a", FilterOp.EQ, 1)
    assert nested == FilterGroup((FilterSpec("b", FilterOp.IN, [1, 2]),), "OR")
    assert query.sort == (SortSpec("a", "DESC"),)
    assert query.pagination is PaginationMode.CURSOR
