"""Built-in projection loaders computed from loaded relations (the memory path)."""

from __future__ import annotations

import msgspec
import pytest

from loom_django.core.model import (
    BaseModel,
    Cardinality,
    ColumnField,
    ProjectionField,
    RelationField,
    detached_models,
    get_projections,
)
from loom_django.core.projection import (
    CountLoader,
    ExistsLoader,
    JoinFieldsLoader,
    compute_projection,
    resolve_loader_relation,
    validate_projections,
)

with detached_models():

    class Line(BaseModel):
        __tablename__ = "proj_lines"
        id: int = ColumnField(primary_key=True)
        order_id: int = 0
        sku: str = ""
        qty: int = 0

    class Order(BaseModel):
        __tablename__ = "proj_orders"
        id: int = ColumnField(primary_key=True)
        lines: list[Line] = RelationField(
            foreign_key="order_id", cardinality=Cardinality.ONE_TO_MANY
        )
        line_count: int = ProjectionField(loader=CountLoader(Line), default=-1)
        has_lines: bool = ProjectionField(loader=ExistsLoader("Line"))
        skus: list[dict[str, object]] = ProjectionField(
            loader=JoinFieldsLoader(model=Line, value_columns=("sku", "qty"), via="lines")
        )

    class Twice(BaseModel):
        __tablename__ = "proj_twice"
        id: int = ColumnField(primary_key=True)
        a: list[Line] = RelationField(foreign_key="x", cardinality=Cardinality.ONE_TO_MANY)
        b: list[Line] = RelationField(foreign_key="y", cardinality=Cardinality.ONE_TO_MANY)


LINES = [Line(id=1, order_id=1, sku="A", qty=2), Line(id=2, order_id=1, sku="B", qty=1)]


def test_count_loader_counts_loaded_rows() -> None:
    assert CountLoader(Line).load_from_object(Order(id=1, lines=LINES)) == 2


def test_exists_loader_reports_loaded_rows() -> None:
    assert ExistsLoader(Line).load_from_object(Order(id=1, lines=LINES)) is True


def test_join_fields_loader_returns_named_columns_per_row() -> None:
    loader = JoinFieldsLoader(model=Line, value_columns=("sku", "qty"))
    assert loader.load_from_object(Order(id=1, lines=LINES)) == [
        {"sku": "A", "qty": 2},
        {"sku": "B", "qty": 1},
    ]


def test_loader_yields_none_when_there_are_no_rows() -> None:
    assert CountLoader(Line).load_from_object(Order(id=1, lines=[])) is None


def test_loader_yields_unset_when_relation_is_not_loaded() -> None:
    assert CountLoader(Line).load_from_object(Order(id=1)) is msgspec.UNSET


def test_loader_reads_relation_rows_from_context() -> None:
    assert CountLoader(Line).load_from_object(Order(id=1), {"lines": LINES[:1]}) == 1


def test_projection_falls_back_to_default_without_rows() -> None:
    projection = get_projections(Order)["line_count"]
    assert compute_projection(projection, Order(id=1, lines=[])) == -1


def test_projection_without_default_falls_back_to_loader_empty_value() -> None:
    projections = get_projections(Order)
    order = Order(id=1, lines=[])
    assert compute_projection(projections["has_lines"], order) is False
    assert compute_projection(projections["skus"], order) == []


def test_relation_is_found_by_target_model() -> None:
    assert resolve_loader_relation(Order, CountLoader(Line), "line_count") == "lines"


def test_relation_is_found_by_target_model_name() -> None:
    assert resolve_loader_relation(Order, ExistsLoader("Line"), "has_lines") == "lines"


def test_missing_relation_is_an_error_naming_the_projection() -> None:
    with pytest.raises(ValueError, match=r"Projection 'Line\.total'"):
        resolve_loader_relation(Line, CountLoader(Order), "total")


def test_unknown_via_is_an_error() -> None:
    with pytest.raises(ValueError, match="via='nope'"):
        resolve_loader_relation(Order, CountLoader(Line, via="nope"), "n")


def test_ambiguous_target_requires_via() -> None:
    with pytest.raises(ValueError, match="pass via="):
        resolve_loader_relation(Twice, CountLoader(Line), "n")
    assert resolve_loader_relation(Twice, CountLoader(Line, via="b"), "n") == "b"


def test_validate_projections_maps_each_projection_to_its_relation() -> None:
    assert validate_projections(Order) == {
        "line_count": "lines",
        "has_lines": "lines",
        "skus": "lines",
    }
