"""Struct-level behaviour of loom models: defaults, JSON shape, immutability, options."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar

import msgspec
import pytest

from loom_django.core.model import (
    BaseModel,
    BigInteger,
    Cardinality,
    ColumnField,
    Field,
    LoomFrozenStruct,
    LoomStruct,
    LoomStructMeta,
    ProjectionField,
    RelationField,
    TimestampedModel,
    detached_models,
    get_column_fields,
)
from loom_django.core.projection import CountLoader
from loom_django.core.response import Response

with detached_models():

    class Review(BaseModel):
        __tablename__ = "model_reviews"

        id: int = ColumnField(primary_key=True, autoincrement=True)
        product_id: int = ColumnField(foreign_key="model_products.id")

    class Product(TimestampedModel):
        __tablename__ = "model_products"

        id: int = ColumnField(primary_key=True, autoincrement=True)
        sku: str = ColumnField(length=64, unique=True, index=True)
        price_cents: int = ColumnField()
        status: str = ColumnField(length=20, default="created")
        note: str | None = ColumnField(length=50, default=None)
        tags: list[str] = ColumnField(default=["new"])
        reviews: list[Review] = RelationField(
            foreign_key="product_id",
            cardinality=Cardinality.ONE_TO_MANY,
            profiles=("with_details",),
        )
        review_count: int = ProjectionField(
            loader=CountLoader(Review), profiles=("with_details",), default=0
        )

    class Annotatedish(BaseModel):
        __tablename__ = "model_annotated"

        id: Annotated[int, Field(primary_key=True, autoincrement=True)]
        big: Annotated[int, BigInteger, Field(index=True)] = 7
        label: Annotated[str, Field(length=10)]


def _product(**overrides: object) -> Product:
    values: dict[str, object] = {"sku": "A-1", "price_cents": 100}
    values.update(overrides)
    return Product(**values)  # type: ignore[arg-type]


def test_json_keys_are_camel_case() -> None:
    encoded = msgspec.json.decode(msgspec.json.encode(_product()))
    assert "priceCents" in encoded
    assert "createdAt" in encoded
    assert "price_cents" not in encoded


def test_unloaded_relation_and_projection_are_absent_from_json() -> None:
    encoded = msgspec.json.decode(msgspec.json.encode(_product()))
    assert "reviews" not in encoded
    assert "reviewCount" not in encoded


def test_column_equal_to_its_default_is_present_in_json() -> None:
    encoded = msgspec.json.decode(msgspec.json.encode(_product()))
    assert encoded["status"] == "created"


def test_null_columns_are_present_in_json() -> None:
    encoded = msgspec.json.decode(msgspec.json.encode(_product()))
    assert encoded["note"] is None
    assert encoded["id"] is None
    assert encoded["updatedAt"] is None


def test_loaded_relation_is_encoded_as_list_of_structs() -> None:
    product = _product(reviews=[Review(id=1, product_id=5)], review_count=1)
    encoded = msgspec.json.decode(msgspec.json.encode(product))
    assert encoded["reviews"] == [{"id": 1, "productId": 5}]
    assert encoded["reviewCount"] == 1


def test_unloaded_relation_value_is_unset() -> None:
    assert _product().reviews is msgspec.UNSET


def test_autoincrement_primary_key_defaults_to_none() -> None:
    assert _product().id is None


def test_column_without_default_is_required() -> None:
    with pytest.raises(TypeError, match="sku"):
        Product(price_cents=1)  # type: ignore[call-arg]


def test_timestamps_default_to_none_on_python_built_instances() -> None:
    product = _product()
    assert product.created_at is None
    assert product.updated_at is None


def test_models_are_frozen() -> None:
    product = _product()
    with pytest.raises(AttributeError):
        product.sku = "other"  # type: ignore[misc]


def test_models_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        Review(1, 2)  # type: ignore[misc]


def test_mutable_column_default_is_copied_per_instance() -> None:
    first, second = _product(), _product()
    first.tags.append("x")
    assert second.tags == ["new"]


def test_annotated_autoincrement_key_defaults_to_none() -> None:
    assert Annotatedish(label="a").id is None


def test_annotated_plain_default_is_kept() -> None:
    assert Annotatedish(label="a").big == 7


def test_annotated_column_without_default_is_required() -> None:
    with pytest.raises(TypeError, match="label"):
        Annotatedish()  # type: ignore[call-arg]


def test_json_round_trip_of_saved_model() -> None:
    now = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    product = _product(id=3, created_at=now, updated_at=now)
    decoded = msgspec.json.decode(msgspec.json.encode(product), type=Product)
    assert decoded == product


def test_struct_options_can_be_overridden_by_class_keywords() -> None:
    class Loose(BaseModel, frozen=False, rename=None):  # type: ignore[misc]
        some_value: int = 1

    loose = Loose()
    loose.some_value = 2
    assert msgspec.json.encode(loose) == b'{"some_value":2}'


def test_class_attributes_can_be_set_on_model_classes() -> None:
    with detached_models():

        class Scratch(BaseModel):
            __tablename__ = "scratch"
            id: int = ColumnField(primary_key=True)

    Scratch.__django_model__ = "generated"  # type: ignore[attr-defined]
    assert Scratch.__django_model__ == "generated"  # type: ignore[attr-defined]


def test_tablename_may_be_annotated_as_classvar() -> None:
    with detached_models():

        class Tagged(BaseModel):
            __tablename__: ClassVar[str] = "tagged"
            id: int = ColumnField(primary_key=True)

    assert Tagged.__tablename__ == "tagged"
    assert "__tablename__" not in get_column_fields(Tagged)


def test_models_without_future_annotations_behave_the_same() -> None:
    source = (
        "from loom_django.core.model import BaseModel, ColumnField, RelationField, Cardinality\n"
        "class Child(BaseModel):\n"
        "    id: int = ColumnField(primary_key=True, autoincrement=True)\n"
        "class Parent(BaseModel):\n"
        "    id: int = ColumnField(primary_key=True, autoincrement=True)\n"
        "    the_name: str = ColumnField(length=5)\n"
        "    children: list['Child'] = RelationField(foreign_key='parent_id',"
        " cardinality=Cardinality.ONE_TO_MANY)\n"
    )
    namespace: dict[str, object] = {"__name__": "scratch_no_future"}
    exec(source, namespace)
    parent = namespace["Parent"](the_name="x")  # type: ignore[operator]
    assert msgspec.json.encode(parent) == b'{"id":null,"theName":"x"}'


def test_loom_message_type_defaults_to_module_and_qualname() -> None:
    assert Product.loom_message_type() == f"{__name__}.Product"


def test_loom_message_type_can_be_declared() -> None:
    class Event(LoomStruct):
        __loom_message_type__ = "store.event"

    assert Event.loom_message_type() == "store.event"


def test_loom_struct_is_mutable_and_frozen_struct_is_not() -> None:
    class Mutable(LoomStruct):
        value: int = 0

    class Frozen(LoomFrozenStruct):
        value: int = 0

    mutable = Mutable()
    mutable.value = 1
    with pytest.raises(AttributeError):
        Frozen().value = 1  # type: ignore[misc]


def test_every_loom_struct_shares_the_metaclass() -> None:
    assert isinstance(Product, LoomStructMeta)
    assert isinstance(Response, LoomStructMeta)
    assert isinstance(LoomStruct, LoomStructMeta)


def test_response_is_frozen_keyword_only_and_camel_case() -> None:
    class Summary(Response):
        job_id: str
        is_done: bool = False

    summary = Summary(job_id="j1")
    assert msgspec.json.encode(summary) == b'{"jobId":"j1","isDone":false}'
    with pytest.raises(AttributeError):
        summary.job_id = "j2"  # type: ignore[misc]
