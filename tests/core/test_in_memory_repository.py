"""InMemoryRepository: CRUD, profiles, queries and cursors, with the ORM repository semantics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Coroutine
from typing import Any, TypeVar

import msgspec
import pytest

from loom_django.core.command import Command, Patch
from loom_django.core.errors import (
    BadRequest,
    Conflict,
    FilterPathError,
    UnsafeFilterError,
    ValidationError,
)
from loom_django.core.model import (
    BaseModel,
    Cardinality,
    ColumnField,
    ProjectionField,
    RelationField,
    TimestampedModel,
    detached_models,
)
from loom_django.core.projection import CountLoader, ExistsLoader
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
)
from loom_django.testing import InMemoryRepository

T = TypeVar("T")

with detached_models():

    class Review(BaseModel):
        __tablename__ = "mem_reviews"
        id: int = ColumnField(primary_key=True, autoincrement=True)
        product_id: int = ColumnField(foreign_key="mem_products.id")
        rating: int = 5

    class Product(TimestampedModel):
        __tablename__ = "mem_products"
        id: int = ColumnField(primary_key=True, autoincrement=True)
        sku: str = ColumnField(length=64, unique=True)
        name: str = ColumnField(length=150)
        stock: int = ColumnField()
        note: str | None = ColumnField(length=50)
        status: str = ColumnField(length=20, default="created")
        reviews: list[Review] = RelationField(
            foreign_key="product_id",
            cardinality=Cardinality.ONE_TO_MANY,
            profiles=("with_details",),
        )
        review_count: int = ProjectionField(
            loader=CountLoader(Review), profiles=("with_details",), default=0
        )
        has_reviews: bool = ProjectionField(
            loader=ExistsLoader(Review), profiles=("with_details",), default=False
        )


class UpdateProduct(Command, frozen=True):
    name: Patch[str] = None
    note: Patch[str] = None


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Drive a repository coroutine to completion, failing if it ever suspends."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise AssertionError("repository coroutine suspended")


def _product(n: int, stock: int, **extra: Any) -> dict[str, Any]:
    return {"sku": f"S{n}", "name": f"Product {n}", "stock": stock, **extra}


@pytest.fixture()
def reviews() -> InMemoryRepository[Review]:
    repo = InMemoryRepository(Review)
    repo.seed({"product_id": 1, "rating": 4}, {"product_id": 1, "rating": 2})
    return repo


@pytest.fixture()
def repo(reviews: InMemoryRepository[Review]) -> InMemoryRepository[Product]:
    products = InMemoryRepository(Product, relations={"reviews": reviews})
    stocks = [3, 9, 1, 5, 3, 7, 3]
    products.seed(*(_product(i + 1, s, note=None if i % 2 else "n") for i, s in enumerate(stocks)))
    return products


def ids(result: PageResult[Product] | CursorResult[Product]) -> list[int]:
    return [item.id for item in result.items]


# -- CRUD (criterion 43, 9) ---------------------------------------------------------


def test_get_by_id_returns_the_entity() -> None:
    repo = InMemoryRepository(Product)
    created = run(repo.create(_product(1, 2)))
    assert run(repo.get_by_id(created.id)) == created


def test_get_by_id_of_missing_id_returns_none(repo: InMemoryRepository[Product]) -> None:
    assert run(repo.get_by_id(999)) is None


def test_get_by_id_coerces_string_ids(repo: InMemoryRepository[Product]) -> None:
    found = run(repo.get_by_id("2"))
    assert found is not None and found.id == 2


def test_create_assigns_increasing_ids_and_defaults() -> None:
    repo = InMemoryRepository(Product)
    first = run(repo.create(_product(1, 2)))
    second = run(repo.create(_product(2, 2)))
    assert (first.id, second.id) == (1, 2)
    assert first.status == "created"
    assert first.note is None


def test_create_sets_timestamps_to_now_utc() -> None:
    repo = InMemoryRepository(Product)
    before = dt.datetime.now(dt.UTC)
    created = run(repo.create(_product(1, 2)))
    assert created.created_at is not None and created.created_at >= before
    assert created.updated_at == created.created_at
    assert created.created_at.tzinfo is not None


def test_create_ignores_client_timestamps() -> None:
    repo = InMemoryRepository(Product)
    old = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    created = run(repo.create(_product(1, 2, createdAt=old)))
    assert created.created_at != old


def test_create_accepts_a_command_or_struct() -> None:
    class CreateProduct(Command, frozen=True):
        sku: str
        name: str
        stock: int

    repo = InMemoryRepository(Product)
    cmd, _ = CreateProduct.from_payload({"sku": "X", "name": "N", "stock": 4})
    assert run(repo.create(cmd)).stock == 4


def test_create_without_a_required_column_is_a_validation_error() -> None:
    repo = InMemoryRepository(Product)
    with pytest.raises(ValidationError, match="stock: may not be null"):
        run(repo.create({"sku": "X", "name": "N"}))


def test_create_with_duplicate_unique_value_is_a_conflict(
    repo: InMemoryRepository[Product],
) -> None:
    with pytest.raises(Conflict, match=r"^A record with these values already exists \(sku\)"):
        run(repo.create(_product(1, 0)))


def test_update_of_missing_id_returns_none(repo: InMemoryRepository[Product]) -> None:
    assert run(repo.update(999, {"name": "x"})) is None


def test_update_writes_only_the_write_set(repo: InMemoryRepository[Product]) -> None:
    cmd, _ = UpdateProduct.from_payload({"name": "Renamed"})
    updated = run(repo.update(1, cmd))
    assert updated is not None
    assert (updated.name, updated.note, updated.stock) == ("Renamed", "n", 3)


def test_update_writes_explicit_null(repo: InMemoryRepository[Product]) -> None:
    cmd, _ = UpdateProduct.from_payload({"note": None})
    updated = run(repo.update(1, cmd))
    assert updated is not None and updated.note is None


def test_update_bumps_updated_at_and_keeps_created_at() -> None:
    repo = InMemoryRepository(Product)
    created = run(repo.create(_product(1, 2)))
    updated = run(repo.update(created.id, {}))
    assert updated is not None and created.updated_at is not None
    assert updated.updated_at is not None and updated.updated_at > created.updated_at
    assert updated.created_at == created.created_at


def test_update_ignores_the_primary_key(repo: InMemoryRepository[Product]) -> None:
    updated = run(repo.update(1, {"id": 50, "stock": 0}))
    assert updated is not None and updated.id == 1
    assert run(repo.get_by_id(50)) is None


def test_delete_returns_true_then_false(repo: InMemoryRepository[Product]) -> None:
    assert run(repo.delete(1)) is True
    assert run(repo.delete(1)) is False
    assert run(repo.get_by_id(1)) is None


def test_exists_by_reflects_the_store(repo: InMemoryRepository[Product]) -> None:
    assert run(repo.exists_by("sku", "S1")) is True
    assert run(repo.exists_by("sku", "nope")) is False


def test_exists_checks_the_primary_key(repo: InMemoryRepository[Product]) -> None:
    assert run(repo.exists(1)) is True
    assert run(repo.exists(99)) is False


def test_count_equals_the_row_count(repo: InMemoryRepository[Product]) -> None:
    assert run(repo.count()) == 7
    run(repo.delete(2))
    assert run(repo.count()) == 6


def test_get_by_returns_the_first_match_by_primary_key(
    repo: InMemoryRepository[Product],
) -> None:
    found = run(repo.get_by("stock", 3))
    assert found is not None and found.id == 1


def test_get_by_unknown_field_raises() -> None:
    with pytest.raises(ValueError, match="Unknown field 'nope' for model 'Product'"):
        run(InMemoryRepository(Product).get_by("nope", 1))


def test_snapshot_and_restore_roll_back_writes(repo: InMemoryRepository[Product]) -> None:
    state = repo.snapshot()
    run(repo.create(_product(20, 1)))
    run(repo.delete(1))
    repo.restore(state)
    assert run(repo.count()) == 7
    assert run(repo.get_by_id(1)) is not None
    assert run(repo.create(_product(21, 1))).id == 8


def test_seed_accepts_model_instances_with_explicit_ids() -> None:
    repo = InMemoryRepository(Review)
    repo.seed(Review(id=10, product_id=1))
    assert run(repo.create({"product_id": 2})).id == 11


# -- profiles, relations, projections (criterion 10) --------------------------------


def test_default_profile_leaves_relations_and_projections_unset(
    repo: InMemoryRepository[Product],
) -> None:
    product = run(repo.get_by_id(1))
    assert product is not None
    assert product.reviews is msgspec.UNSET
    assert product.review_count is msgspec.UNSET


def test_profile_loads_relation_and_projections(repo: InMemoryRepository[Product]) -> None:
    product = run(repo.get_by_id(1, profile="with_details"))
    assert product is not None
    assert [r.rating for r in product.reviews] == [4, 2]
    assert (product.review_count, product.has_reviews) == (2, True)


def test_projection_falls_back_to_default_without_related_rows(
    repo: InMemoryRepository[Product],
) -> None:
    product = run(repo.get_by_id(2, profile="with_details"))
    assert product is not None
    assert (product.reviews, product.review_count, product.has_reviews) == ([], 0, False)


def test_relation_values_given_to_seed_are_served_for_the_profile() -> None:
    repo = InMemoryRepository(Product)
    repo.seed(Product(sku="A", name="A", stock=1, note=None, reviews=[Review(product_id=1)]))
    product = run(repo.get_by_id(1, profile="with_details"))
    assert product is not None and product.review_count == 1


def test_unknown_profile_is_a_validation_error(repo: InMemoryRepository[Product]) -> None:
    with pytest.raises(ValidationError, match="Unknown profile 'bogus'"):
        run(repo.get_by_id(1, profile="bogus"))


# -- offset queries (criteria 44, 45, 47) --------------------------------------------


def test_low_stock_query_filters_sorts_and_counts(repo: InMemoryRepository[Product]) -> None:
    query = QuerySpec(
        filters=FilterGroup(filters=(FilterSpec("stock", FilterOp.LTE, 5),)),
        sort=(SortSpec("stock"), SortSpec("id")),
        limit=3,
    )
    result = run(repo.list_with_query(query))
    assert isinstance(result, PageResult)
    assert ids(result) == [3, 1, 5]
    assert (result.total_count, result.has_next) == (5, True)


def test_page_beyond_the_end_keeps_the_true_total(repo: InMemoryRepository[Product]) -> None:
    result = run(repo.list_with_query(QuerySpec(limit=5, page=4)))
    assert isinstance(result, PageResult)
    assert result.items == ()
    assert (result.total_count, result.has_next) == (7, False)


def test_query_without_sort_orders_by_primary_key(repo: InMemoryRepository[Product]) -> None:
    assert ids(run(repo.list_with_query(QuerySpec()))) == [1, 2, 3, 4, 5, 6, 7]


def test_query_limit_is_clamped(repo: InMemoryRepository[Product]) -> None:
    result = run(repo.list_with_query(QuerySpec(limit=0)))
    assert isinstance(result, PageResult) and result.limit == 1


def test_list_paginated_filters_by_equality(repo: InMemoryRepository[Product]) -> None:
    result = run(repo.list_paginated(PageParams(page=1, limit=2), FilterParams({"stock": 3})))
    assert ids(result) == [1, 5]
    assert (result.total_count, result.has_next) == (3, True)


def test_list_paginated_uses_the_profile(repo: InMemoryRepository[Product]) -> None:
    result = run(repo.list_paginated(PageParams(limit=1), profile="with_details"))
    assert result.items[0].review_count == 2


def test_allow_list_rejects_other_filter_fields(repo: InMemoryRepository[Product]) -> None:
    guarded = InMemoryRepository(Product, allowed_filter_fields=frozenset({"name"}))
    query = QuerySpec(filters=FilterGroup((FilterSpec("stock", FilterOp.EQ, 1),)))
    with pytest.raises(UnsafeFilterError, match="Filtering on field 'stock' is not allowed"):
        run(guarded.list_with_query(query))


def test_allow_list_applies_to_sort_fields() -> None:
    guarded = InMemoryRepository(Product, allowed_filter_fields=frozenset({"name"}))
    with pytest.raises(UnsafeFilterError):
        run(guarded.list_with_query(QuerySpec(sort=(SortSpec("stock"),))))


def test_allow_list_can_be_a_class_attribute() -> None:
    class NameOnly(InMemoryRepository[Product]):
        allowed_filter_fields = frozenset({"name"})

    with pytest.raises(UnsafeFilterError):
        run(NameOnly(Product).list_paginated(PageParams(), FilterParams({"stock": 1})))


def test_unknown_filter_path_is_a_filter_path_error(repo: InMemoryRepository[Product]) -> None:
    query = QuerySpec(filters=FilterGroup((FilterSpec("nope", FilterOp.EQ, 1),)))
    with pytest.raises(FilterPathError, match="Unknown filter field path: 'nope'"):
        run(repo.list_with_query(query))


def test_unknown_sort_path_is_a_filter_path_error() -> None:
    with pytest.raises(FilterPathError):
        run(InMemoryRepository(Product).list_with_query(QuerySpec(sort=(SortSpec("x.y"),))))


# -- cursor queries (criteria 48, 49) ------------------------------------------------


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_cursor_paging_visits_every_row_once(
    repo: InMemoryRepository[Product], direction: str
) -> None:
    sort = (SortSpec("stock", direction),)  # type: ignore[arg-type]
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = QuerySpec(sort=sort, pagination=PaginationMode.CURSOR, limit=2, cursor=cursor)
        result = run(repo.list_with_query(query))
        assert isinstance(result, CursorResult)
        seen.extend(ids(result))
        pages += 1
        if not result.has_next:
            assert result.next_cursor is None
            break
        cursor = result.next_cursor
    assert sorted(seen) == [1, 2, 3, 4, 5, 6, 7]
    assert pages == 4
    expected = sorted(range(1, 8), key=lambda i: [3, 9, 1, 5, 3, 7, 3][i - 1])
    if direction == "DESC":
        expected = sorted(range(1, 8), key=lambda i: (-[3, 9, 1, 5, 3, 7, 3][i - 1], i))
    assert seen == expected


def test_cursor_paging_handles_null_sort_values(repo: InMemoryRepository[Product]) -> None:
    seen: list[int] = []
    cursor: str | None = None
    while True:
        query = QuerySpec(
            sort=(SortSpec("note"),), pagination=PaginationMode.CURSOR, limit=3, cursor=cursor
        )
        result = run(repo.list_with_query(query))
        assert isinstance(result, CursorResult)
        seen.extend(ids(result))
        if not result.has_next:
            break
        cursor = result.next_cursor
    assert seen == [2, 4, 6, 1, 3, 5, 7]


def test_tampered_cursor_is_a_bad_request(repo: InMemoryRepository[Product]) -> None:
    query = QuerySpec(pagination=PaginationMode.CURSOR, limit=2)
    first = run(repo.list_with_query(query))
    assert isinstance(first, CursorResult) and first.next_cursor
    tampered = first.next_cursor[:-2] + ("AA" if not first.next_cursor.endswith("AA") else "BB")
    with pytest.raises(BadRequest):
        run(repo.list_with_query(QuerySpec(pagination=PaginationMode.CURSOR, cursor=tampered)))


def test_cursor_for_another_sort_is_a_bad_request(repo: InMemoryRepository[Product]) -> None:
    first = run(repo.list_with_query(QuerySpec(pagination=PaginationMode.CURSOR, limit=2)))
    assert isinstance(first, CursorResult)
    other = QuerySpec(
        sort=(SortSpec("stock"),), pagination=PaginationMode.CURSOR, cursor=first.next_cursor
    )
    with pytest.raises(BadRequest, match="different sort order"):
        run(repo.list_with_query(other))


def test_offset_page_without_count_reports_has_next_from_one_more_row(
    repo: InMemoryRepository[Product],
) -> None:
    page = run(repo.list_with_query(QuerySpec(limit=4, count=False)))
    assert (len(page.items), page.total_count, page.has_next) == (4, None, True)
    last = run(repo.list_with_query(QuerySpec(limit=4, page=2, count=False)))
    assert (len(last.items), last.total_count, last.has_next) == (3, None, False)
