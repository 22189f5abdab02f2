"""list_with_query: filters, groups, paths, sorting, offset pages (criteria 44–47; §11)."""

from __future__ import annotations

import pytest

from loom_django.core.errors import FilterPathError, UnsafeFilterError
from loom_django.core.repository.abc.query import (
    FilterGroup,
    FilterOp,
    FilterParams,
    FilterSpec,
    PageParams,
    PageResult,
    QuerySpec,
    SortSpec,
)
from loom_django.orm import RepositoryDjango
from tests.testapp.models import Product

from .conftest import make_product, run

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(products, reviews):
    rows = [
        ("KB-1", "Keyboard", "peripherals", 10, 3, None),
        ("MS-1", "Mouse", "peripherals", 20, 8, "wireless"),
        ("MN-1", "Monitor", "screens", 20, 1, "4k"),
        ("kb-2", "keyboard mini", "peripherals", 30, 5, None),
        ("CB-1", "Cable 50%", "cables", 40, 12, None),
    ]
    made = {}
    for sku, name, category, price, stock, note in rows:
        made[sku] = make_product(
            products, sku, name=name, category=category, price_cents=price, stock=stock, note=note
        )
    run(reviews.create({"product_id": made["KB-1"].id, "rating": 5}))
    run(reviews.create({"product_id": made["KB-1"].id, "rating": 4}))
    run(reviews.create({"product_id": made["MN-1"].id, "rating": 2}))
    return made


def skus(repo, *specs, op="AND", sort=(SortSpec("id"),), **query):
    filters = FilterGroup(filters=tuple(specs), op=op) if specs else None
    page = run(repo.list_with_query(QuerySpec(filters=filters, sort=sort, **query)))
    return [item.sku for item in page.items]


def where(field, op, value=None):
    return FilterSpec(field, op, value)


def test_lte_filter_sorted_by_stock_then_id_with_counts(products, catalog):
    query = QuerySpec(
        filters=FilterGroup(filters=(where("stock", FilterOp.LTE, 5),)),
        sort=(SortSpec("stock"), SortSpec("id")),
        limit=2,
    )
    page = run(products.list_with_query(query))
    assert isinstance(page, PageResult)
    assert [p.sku for p in page.items] == ["MN-1", "KB-1"]
    assert (page.total_count, page.has_next, page.page, page.limit) == (3, True, 1, 2)


def test_page_beyond_the_end_is_empty_with_the_true_total(products, catalog):
    page = run(products.list_with_query(QuerySpec(limit=2, page=9)))
    assert (page.items, page.total_count, page.has_next) == ((), 5, False)


def test_last_partial_page_has_no_next(products, catalog):
    page = run(products.list_with_query(QuerySpec(limit=2, page=3)))
    assert (len(page.items), page.total_count, page.has_next) == (1, 5, False)


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        (FilterOp.EQ, 20, ["MS-1", "MN-1"]),
        (FilterOp.NE, 20, ["KB-1", "kb-2", "CB-1"]),
        (FilterOp.GT, 20, ["kb-2", "CB-1"]),
        (FilterOp.GTE, 30, ["kb-2", "CB-1"]),
        (FilterOp.LT, 20, ["KB-1"]),
        (FilterOp.LTE, 10, ["KB-1"]),
        (FilterOp.IN, [10, 40], ["KB-1", "CB-1"]),
        (FilterOp.IN, 30, ["kb-2"]),
    ],
)
def test_comparison_operators(products, catalog, op, value, expected):
    assert sorted(skus(products, where("price_cents", op, value))) == sorted(expected)


def test_like_honours_wildcards_case_sensitively(products, catalog):
    assert skus(products, where("name", FilterOp.LIKE, "Key%")) == ["KB-1"]
    assert skus(products, where("name", FilterOp.LIKE, "%board%")) == ["KB-1", "kb-2"]
    assert skus(products, where("sku", FilterOp.LIKE, "K_-_")) == ["KB-1"]
    assert skus(products, where("name", FilterOp.LIKE, "%50\\%")) == ["CB-1"]


def test_ilike_matches_case_insensitively(products, catalog):
    assert skus(products, where("name", FilterOp.ILIKE, "%KEY%")) == ["KB-1", "kb-2"]
    assert skus(products, where("sku", FilterOp.ILIKE, "kb-_")) == ["KB-1", "kb-2"]


@pytest.mark.parametrize(("value", "expected"), [(True, 3), (None, 3), (False, 2), ("false", 2)])
def test_is_null_with_false_selects_non_null_rows(products, catalog, value, expected):
    assert len(skus(products, where("note", FilterOp.IS_NULL, value))) == expected


def test_exists_and_not_exists_select_parents_by_related_rows(products, catalog):
    assert skus(products, where("reviews", FilterOp.EXISTS)) == ["KB-1", "MN-1"]
    assert skus(products, where("reviews", FilterOp.NOT_EXISTS)) == ["MS-1", "kb-2", "CB-1"]


def test_or_group_and_nested_groups(products, catalog):
    either = (where("category", FilterOp.EQ, "screens"), where("stock", FilterOp.GT, 10))
    assert skus(products, *either, op="OR") == ["MN-1", "CB-1"]
    nested = FilterGroup(
        filters=(where("category", FilterOp.EQ, "peripherals"), where("stock", FilterOp.LT, 4)),
        op="OR",
    )
    assert skus(products, nested, where("price_cents", FilterOp.LTE, 20)) == [
        "KB-1",
        "MS-1",
        "MN-1",
    ]


def test_many_to_one_path_filters_through_the_join(reviews, catalog):
    page = run(
        reviews.list_with_query(
            QuerySpec(filters=FilterGroup(filters=(where("product.sku", FilterOp.EQ, "KB-1"),)))
        )
    )
    assert sorted(r.rating for r in page.items) == [4, 5]


def test_to_many_path_filters_without_duplicates(products, catalog):
    assert skus(products, where("reviews.rating", FilterOp.GTE, 4)) == ["KB-1"]
    assert skus(products, where("reviews.rating", FilterOp.LTE, 5)) == ["KB-1", "MN-1"]


def test_sort_desc_and_camel_case_names(products, catalog):
    assert skus(products, sort=(SortSpec("priceCents", "DESC"), SortSpec("sku"))) == [
        "CB-1",
        "kb-2",
        "MN-1",
        "MS-1",
        "KB-1",
    ]
    assert skus(products, where("priceCents", FilterOp.EQ, 10)) == ["KB-1"]


def test_sort_through_a_many_to_one_path(reviews, catalog):
    page = run(reviews.list_with_query(QuerySpec(sort=(SortSpec("product.sku", "DESC"),))))
    assert [r.rating for r in page.items] == [2, 5, 4]


def test_no_sort_orders_by_primary_key(products, catalog):
    assert skus(products, sort=()) == ["KB-1", "MS-1", "MN-1", "kb-2", "CB-1"]


def test_unknown_field_is_a_filter_path_error(products, catalog):
    with pytest.raises(FilterPathError, match="Unknown filter field path: 'colour'"):
        skus(products, where("colour", FilterOp.EQ, "red"))
    with pytest.raises(FilterPathError):
        skus(products, sort=(SortSpec("reviews.rating"),))


def test_allowed_filter_fields_reject_other_filters_and_sorts(catalog):
    class NameOnly(RepositoryDjango[Product, int]):
        allowed_filter_fields = frozenset({"name"})

    repo = NameOnly()
    assert skus(repo, where("name", FilterOp.EQ, "Mouse"), sort=(SortSpec("name"),)) == ["MS-1"]
    with pytest.raises(UnsafeFilterError, match="Filtering on field 'price_cents' is not allowed"):
        skus(repo, where("price_cents", FilterOp.EQ, 10), sort=())
    with pytest.raises(UnsafeFilterError):
        skus(repo, sort=(SortSpec("stock"),))


def test_limit_is_clamped_to_1000(products, catalog):
    page = run(products.list_with_query(QuerySpec(limit=5000)))
    assert page.limit == 1000


def test_list_paginated_filters_by_equality_in_primary_key_order(products, catalog):
    page = run(
        products.list_paginated(PageParams(page=1, limit=2), FilterParams({"price_cents": 20}))
    )
    assert [p.sku for p in page.items] == ["MS-1", "MN-1"]
    assert (page.total_count, page.has_next) == (2, False)
    everything = run(products.list_paginated(PageParams(page=2, limit=2)))
    assert [p.sku for p in everything.items] == ["MN-1", "kb-2"]


def test_full_first_page_counts_once_and_partial_page_needs_no_count(
    products, catalog, django_assert_num_queries
):
    with django_assert_num_queries(2):
        run(products.list_with_query(QuerySpec(limit=2)))
    with django_assert_num_queries(1):
        run(products.list_with_query(QuerySpec(limit=20)))


def test_page_without_count_is_one_query_with_has_next(
    products, catalog, django_assert_num_queries
):
    with django_assert_num_queries(1):
        page = run(products.list_with_query(QuerySpec(limit=2, page=2, count=False)))
    assert (len(page.items), page.total_count, page.has_next) == (2, None, True)
    last = run(products.list_with_query(QuerySpec(limit=2, page=3, count=False)))
    assert (len(last.items), last.total_count, last.has_next) == (1, None, False)
