"""Every FilterOp, nested groups and relation paths, evaluated by the in-memory repository."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from loom_django.core.errors import FilterPathError
from loom_django.core.model import (
    BaseModel,
    Cardinality,
    ColumnField,
    RelationField,
    detached_models,
)
from loom_django.core.repository.abc.query import (
    FilterGroup,
    FilterOp,
    FilterSpec,
    PageResult,
    QuerySpec,
    SortSpec,
)
from loom_django.testing import InMemoryRepository

T = TypeVar("T")

with detached_models():

    class Category(BaseModel):
        __tablename__ = "flt_categories"
        id: int = ColumnField(primary_key=True, autoincrement=True)
        name: str = ColumnField(length=40)

    class Tag(BaseModel):
        __tablename__ = "flt_tags"
        id: int = ColumnField(primary_key=True, autoincrement=True)
        item_id: int = ColumnField(foreign_key="flt_items.id")
        label: str = ColumnField(length=20)

    class Item(BaseModel):
        __tablename__ = "flt_items"
        id: int = ColumnField(primary_key=True, autoincrement=True)
        name: str = ColumnField(length=40)
        price: int = ColumnField()
        note: str | None = ColumnField(length=40)
        category_id: int | None = ColumnField(foreign_key="flt_categories.id")
        category: Category | None = RelationField(
            foreign_key="category_id", cardinality=Cardinality.MANY_TO_ONE
        )
        tags: list[Tag] = RelationField(foreign_key="item_id", cardinality=Cardinality.ONE_TO_MANY)


def run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    raise AssertionError("repository coroutine suspended")


@pytest.fixture()
def items() -> InMemoryRepository[Item]:
    categories = InMemoryRepository(Category)
    categories.seed({"name": "Tools"}, {"name": "Toys"})
    tags = InMemoryRepository(Tag)
    tags.seed(
        {"item_id": 1, "label": "red"},
        {"item_id": 1, "label": "big"},
        {"item_id": 3, "label": "red"},
    )
    repo = InMemoryRepository(Item, relations={"category": categories, "tags": tags})
    repo.seed(
        {"name": "Hammer", "price": 10, "note": "steel", "category_id": 1},
        {"name": "hammock", "price": 40, "note": None, "category_id": 2},
        {"name": "Saw", "price": 25, "note": "sharp", "category_id": 1},
        {"name": "Ball", "price": 5, "note": None, "category_id": None},
    )
    return repo


def matching(repo: InMemoryRepository[Item], *filters: Any, op: str = "AND") -> list[int]:
    query = QuerySpec(filters=FilterGroup(tuple(filters), op), sort=(SortSpec("id"),))  # type: ignore[arg-type]
    result = run(repo.list_with_query(query))
    assert isinstance(result, PageResult)
    return [item.id for item in result.items]


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        (FilterOp.EQ, 25, [3]),
        (FilterOp.NE, 25, [1, 2, 4]),
        (FilterOp.GT, 10, [2, 3]),
        (FilterOp.GTE, 10, [1, 2, 3]),
        (FilterOp.LT, 10, [4]),
        (FilterOp.LTE, 10, [1, 4]),
        (FilterOp.IN, [5, 40], [2, 4]),
        (FilterOp.IN, 5, [4]),
    ],
)
def test_comparison_operators(
    items: InMemoryRepository[Item], op: FilterOp, value: Any, expected: list[int]
) -> None:
    assert matching(items, FilterSpec("price", op, value)) == expected


def test_filter_values_are_coerced_to_the_column_type(items: InMemoryRepository[Item]) -> None:
    assert matching(items, FilterSpec("price", FilterOp.GTE, "25")) == [2, 3]


def test_like_honours_percent_wildcard_case_sensitively(items: InMemoryRepository[Item]) -> None:
    assert matching(items, FilterSpec("name", FilterOp.LIKE, "Ham%")) == [1]


def test_like_underscore_matches_one_character(items: InMemoryRepository[Item]) -> None:
    assert matching(items, FilterSpec("name", FilterOp.LIKE, "S_w")) == [3]
    assert matching(items, FilterSpec("name", FilterOp.LIKE, "S_")) == []


def test_like_treats_regex_characters_literally(items: InMemoryRepository[Item]) -> None:
    assert matching(items, FilterSpec("name", FilterOp.LIKE, "Ham.er")) == []


def test_ilike_matches_case_insensitively(items: InMemoryRepository[Item]) -> None:
    assert matching(items, FilterSpec("name", FilterOp.ILIKE, "ham%")) == [1, 2]


def test_is_null_selects_null_rows(items: InMemoryRepository[Item]) -> None:
    assert matching(items, FilterSpec("note", FilterOp.IS_NULL)) == [2, 4]
    assert matching(items, FilterSpec("note", FilterOp.IS_NULL, True)) == [2, 4]


@pytest.mark.parametrize("falsy", [False, "false", 0])
def test_is_null_with_falsy_value_selects_non_null_rows(
    items: InMemoryRepository[Item], falsy: Any
) -> None:
    assert matching(items, FilterSpec("note", FilterOp.IS_NULL, falsy)) == [1, 3]


def test_exists_selects_parents_with_related_rows(items: InMemoryRepository[Item]) -> None:
    assert matching(items, FilterSpec("tags", FilterOp.EXISTS)) == [1, 3]


def test_not_exists_selects_parents_without_related_rows(items: InMemoryRepository[Item]) -> None:
    assert matching(items, FilterSpec("tags", FilterOp.NOT_EXISTS)) == [2, 4]


def test_groups_combine_with_or(items: InMemoryRepository[Item]) -> None:
    found = matching(
        items, FilterSpec("price", FilterOp.LT, 6), FilterSpec("price", FilterOp.GT, 30), op="OR"
    )
    assert found == [2, 4]


def test_groups_nest(items: InMemoryRepository[Item]) -> None:
    either = FilterGroup(
        (FilterSpec("name", FilterOp.EQ, "Saw"), FilterSpec("name", FilterOp.EQ, "Ball")), "OR"
    )
    assert matching(items, either, FilterSpec("price", FilterOp.GT, 6)) == [3]


def test_dotted_path_filters_through_a_to_one_relation(items: InMemoryRepository[Item]) -> None:
    assert matching(items, FilterSpec("category.name", FilterOp.EQ, "Tools")) == [1, 3]


def test_dotted_path_filters_through_a_to_many_relation(items: InMemoryRepository[Item]) -> None:
    assert matching(items, FilterSpec("tags.label", FilterOp.EQ, "big")) == [1]


def test_sort_through_a_to_one_relation(items: InMemoryRepository[Item]) -> None:
    query = QuerySpec(sort=(SortSpec("category.name", "DESC"), SortSpec("id")))
    result = run(items.list_with_query(query))
    assert [item.id for item in result.items] == [2, 1, 3, 4]


def test_unknown_column_behind_a_relation_is_a_filter_path_error(
    items: InMemoryRepository[Item],
) -> None:
    with pytest.raises(FilterPathError, match="category.nope"):
        matching(items, FilterSpec("category.nope", FilterOp.EQ, 1))


def test_exists_on_a_column_is_a_filter_path_error(items: InMemoryRepository[Item]) -> None:
    with pytest.raises(FilterPathError):
        matching(items, FilterSpec("price", FilterOp.EXISTS))


def test_relation_filter_without_relation_data_is_a_clear_error() -> None:
    repo = InMemoryRepository(Item)
    repo.seed({"name": "A", "price": 1, "note": None, "category_id": None})
    with pytest.raises(ValueError, match="has no data for relation 'tags'"):
        matching(repo, FilterSpec("tags", FilterOp.EXISTS))


def test_to_one_relation_is_loaded_from_another_repository(
    items: InMemoryRepository[Item],
) -> None:
    item = run(items.get_by_id(1))
    assert item is not None and item.category == Category(id=1, name="Tools")
    assert [t.label for t in item.tags] == ["red", "big"]
