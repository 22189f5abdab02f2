"""Keyset cursor pagination (criteria 48, 49; core §11.4)."""

from __future__ import annotations

import pytest

from loom_django.core.errors import BadRequest
from loom_django.core.repository.abc.query import (
    CursorResult,
    FilterGroup,
    FilterOp,
    FilterSpec,
    PaginationMode,
    QuerySpec,
    SortSpec,
)

from .conftest import make_product, run

pytestmark = pytest.mark.django_db

STOCKS = [3, 1, 3, 2, 1, 3, 2]
NOTES = [None, "b", None, "a", "b", None, "c"]


@pytest.fixture
def seven(products):
    return [
        make_product(products, f"S{i}", stock=stock, note=note)
        for i, (stock, note) in enumerate(zip(STOCKS, NOTES, strict=True))
    ]


def walk(repo, sort, limit=2, filters=None):
    pages, token = [], None
    while True:
        query = QuerySpec(
            filters=filters, sort=sort, pagination=PaginationMode.CURSOR, limit=limit, cursor=token
        )
        page = run(repo.list_with_query(query))
        assert isinstance(page, CursorResult)
        pages.append(page)
        if not page.has_next:
            return pages
        token = page.next_cursor
        assert len(pages) < 20


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_paging_a_non_unique_sort_visits_every_row_once(products, seven, direction):
    pages = walk(products, (SortSpec("stock", direction),))
    items = [item for page in pages for item in page.items]
    assert sorted(item.id for item in items) == sorted(p.id for p in seven)
    expected = sorted(
        seven, key=lambda p: (p.stock, p.id) if direction == "ASC" else (-p.stock, p.id)
    )
    assert [i.id for i in items] == [p.id for p in expected]
    assert (pages[-1].has_next, pages[-1].next_cursor) == (False, None)
    assert all(page.next_cursor for page in pages[:-1])


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_paging_a_nullable_sort_skips_no_row(products, seven, direction):
    items = [i for page in walk(products, (SortSpec("note", direction),)) for i in page.items]
    assert sorted(i.id for i in items) == sorted(p.id for p in seven)
    notes = [i.note for i in items]
    present = [n for n in notes if n is not None]
    assert present == sorted(present, reverse=direction == "DESC")
    if direction == "ASC":
        assert notes[-3:] == [None, None, None]
    else:
        assert notes[:3] == [None, None, None]


def test_paging_without_sort_uses_the_primary_key(products, seven):
    items = [i for page in walk(products, (), limit=3) for i in page.items]
    assert [i.id for i in items] == [p.id for p in seven]


def test_paging_by_timestamp_round_trips_datetimes(products, seven):
    items = [i for page in walk(products, (SortSpec("created_at", "DESC"),)) for i in page.items]
    assert len({i.id for i in items}) == 7


def test_paging_with_a_filter(products, seven):
    only = FilterGroup(filters=(FilterSpec("stock", FilterOp.GTE, 2),))
    items = [i for page in walk(products, (SortSpec("stock"),), filters=only) for i in page.items]
    assert [i.stock for i in items] == [2, 2, 3, 3, 3]


def test_paging_by_a_many_to_one_path(reviews, products, seven):
    for product in seven:
        run(reviews.create({"product_id": product.id, "rating": 1}))
    items = [i for page in walk(reviews, (SortSpec("product.stock", "DESC"),)) for i in page.items]
    assert len({i.id for i in items}) == 7


def test_camel_case_and_snake_case_sorts_share_tokens(products, seven):
    first = run(
        products.list_with_query(
            QuerySpec(sort=(SortSpec("priceCents"),), pagination=PaginationMode.CURSOR, limit=2)
        )
    )
    second = run(
        products.list_with_query(
            QuerySpec(
                sort=(SortSpec("price_cents"),),
                pagination=PaginationMode.CURSOR,
                limit=2,
                cursor=first.next_cursor,
            )
        )
    )
    assert len(second.items) == 2


def test_tampered_token_is_a_bad_request(products, seven):
    page = run(products.list_with_query(QuerySpec(pagination=PaginationMode.CURSOR, limit=2)))
    body, _, mac = page.next_cursor.partition(".")
    tampered = f"{body[:-2]}AA.{mac}"
    with pytest.raises(BadRequest) as caught:
        run(products.list_with_query(QuerySpec(pagination=PaginationMode.CURSOR, cursor=tampered)))
    assert caught.value.code == "bad_request"
    with pytest.raises(BadRequest):
        run(products.list_with_query(QuerySpec(pagination=PaginationMode.CURSOR, cursor="junk")))


def test_token_issued_for_another_sort_is_a_bad_request(products, seven):
    page = run(products.list_with_query(QuerySpec(pagination=PaginationMode.CURSOR, limit=2)))
    other = QuerySpec(
        sort=(SortSpec("stock", "DESC"),), pagination=PaginationMode.CURSOR, cursor=page.next_cursor
    )
    with pytest.raises(BadRequest, match="different sort order"):
        run(products.list_with_query(other))


def test_cursor_page_is_one_query(products, seven, django_assert_num_queries):
    page = run(products.list_with_query(QuerySpec(pagination=PaginationMode.CURSOR, limit=2)))
    with django_assert_num_queries(1):
        run(
            products.list_with_query(
                QuerySpec(pagination=PaginationMode.CURSOR, limit=2, cursor=page.next_cursor)
            )
        )
