"""Column metadata, type inference, nullability and the introspection helpers."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any

import pytest

from loom_django.core.model import (
    JSON,
    BaseModel,
    BigInteger,
    Boolean,
    Cardinality,
    ColumnField,
    ColumnType,
    Date,
    DateTime,
    Field,
    Float,
    Integer,
    JsonStr,
    Numeric,
    OnDelete,
    Postgres,
    ProjectionField,
    RelationField,
    ServerDefault,
    ServerOnUpdate,
    String,
    Text,
    Time,
    TimestampedModel,
    Uuid,
    detached_models,
    get_column_fields,
    get_id_attribute,
    get_projections,
    get_relations,
    get_table_name,
    model_profiles,
    relation_target,
)
from loom_django.core.projection import ExistsLoader

with detached_models():

    class Tag(BaseModel):
        __tablename__ = "intro_tags"

        id: int = ColumnField(primary_key=True, autoincrement=True)
        item_id: int = ColumnField(foreign_key="intro_items.id", on_delete=OnDelete.CASCADE)

    class Item(TimestampedModel):
        __tablename__ = "intro_items"

        id: int = ColumnField(BigInteger, primary_key=True, autoincrement=True)
        name: str = ColumnField(length=80)
        body: str = ColumnField()
        long_text: str = ColumnField(column_type=Text, db_type=String(5))
        price: Decimal = ColumnField()
        ratio: float = 0.5
        active: bool = True
        born: dt.date | None = None
        at: dt.time | None = None
        seen: dt.datetime | None = None
        ref: uuid.UUID = ColumnField(server_default=ServerDefault.UUID4)
        numbers: list[int] = ColumnField(default=[])
        meta: dict[str, Any] = ColumnField(default={})
        raw: JsonStr = "{}"
        doc: dict[str, Any] = ColumnField(Postgres.JSONB, default={})
        words: list[str] = ColumnField(Postgres.ARRAY(String(20)), default=[])
        amount: Decimal = ColumnField(Numeric(12, 4), default=Decimal("0"))
        note: str | None = ColumnField(length=50)
        strict_note: str | None = ColumnField(length=50, nullable=False)
        forced: int = ColumnField(nullable=True)
        tags: list[Tag] = RelationField(
            foreign_key="item_id", cardinality=Cardinality.ONE_TO_MANY, profiles=("full",)
        )
        owner: Tag | None = RelationField(
            foreign_key="owner_id", cardinality=Cardinality.MANY_TO_ONE, profiles=("owner",)
        )
        has_tags: bool = ProjectionField(loader=ExistsLoader(Tag, via="tags"), profiles=("flags",))


def _columns() -> dict[str, Any]:
    return get_column_fields(Item)


def test_every_non_relation_field_is_a_column_in_struct_order() -> None:
    names = list(_columns())
    assert names[:3] == ["created_at", "updated_at", "id"]
    assert "tags" not in names
    assert "has_tags" not in names
    assert "ratio" in names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ratio", Float),
        ("active", Boolean),
        ("body", String),
        ("seen", DateTime(tz=True)),
        ("price", Numeric(10, 2)),
        ("born", Date),
        ("at", Time),
        ("ref", Uuid),
        ("numbers", JSON),
        ("meta", JSON),
    ],
)
def test_column_type_is_inferred_from_the_annotation(name: str, expected: ColumnType) -> None:
    assert _columns()[name].column_type == expected


def test_str_with_length_infers_string_with_that_length() -> None:
    assert _columns()["name"].column_type.options == {"length": 80}


def test_str_without_length_infers_string_without_length() -> None:
    assert _columns()["body"].column_type.options == {"length": None}


def test_explicit_column_type_is_used() -> None:
    assert _columns()["id"].column_type == BigInteger


def test_db_type_wins_over_column_type() -> None:
    assert _columns()["long_text"].column_type == String(5)


def test_json_str_marker_is_the_column_type() -> None:
    raw = _columns()["raw"]
    assert raw.column_type.type_name == "JsonStr"
    assert raw.python_type is str


def test_postgres_types_are_flagged() -> None:
    assert _columns()["doc"].column_type == Postgres.JSONB
    assert _columns()["doc"].column_type.is_postgres
    assert _columns()["words"].column_type.options == {"item_type": String(20)}
    assert not Integer.is_postgres


def test_numeric_options_include_precision_and_scale() -> None:
    assert _columns()["amount"].column_type.options == {"precision": 12, "scale": 4}
    assert Numeric.options == {"precision": 10, "scale": 2}


def test_column_type_rejects_unknown_parameters() -> None:
    with pytest.raises(TypeError):
        String(size=3)


def test_python_type_has_optional_unwrapped() -> None:
    assert _columns()["born"].python_type is dt.date
    assert _columns()["numbers"].python_type == list[int]


def test_nullable_follows_annotation_by_default() -> None:
    assert _columns()["note"].nullable is True
    assert _columns()["name"].nullable is False


def test_explicit_nullable_wins_over_annotation() -> None:
    assert _columns()["strict_note"].nullable is False
    assert _columns()["forced"].nullable is True


def test_primary_key_is_never_nullable_by_default() -> None:
    with detached_models():

        class OptionalKey(BaseModel):
            id: int | None = ColumnField(primary_key=True, autoincrement=True)

    assert get_column_fields(OptionalKey)["id"].nullable is False


def test_timestamp_columns_are_nullable_and_server_generated() -> None:
    created, updated = _columns()["created_at"], _columns()["updated_at"]
    assert created.nullable and updated.nullable
    assert created.field.server_default is ServerDefault.NOW
    assert created.field.server_onupdate is None
    assert updated.field.server_onupdate is ServerOnUpdate.NOW
    assert created.server_generated and updated.server_generated


def test_column_options_are_kept_on_the_field_spec() -> None:
    tag_fk = get_column_fields(Tag)["item_id"].field
    assert tag_fk.foreign_key == "intro_items.id"
    assert tag_fk.on_delete is OnDelete.CASCADE


def test_server_onupdate_accepts_the_string_now() -> None:
    assert ColumnField(server_onupdate="NOW").server_onupdate is ServerOnUpdate.NOW


def test_server_onupdate_rejects_other_strings() -> None:
    with pytest.raises(ValueError):
        ColumnField(server_onupdate="later")


def test_column_metadata_is_inherited_and_subclass_wins() -> None:
    with detached_models():

        class Base(BaseModel):
            id: int = ColumnField(primary_key=True, autoincrement=True)
            code: str = ColumnField(length=10, unique=True)

        class Child(Base):
            __tablename__ = "intro_child"
            code: str = ColumnField(length=20)

    assert get_column_fields(Child)["id"].field.primary_key
    assert get_column_fields(Child)["code"].field.length == 20
    assert not get_column_fields(Child)["code"].field.unique


def test_annotated_field_options_are_columns() -> None:
    with detached_models():

        class Ann(BaseModel):
            id: Annotated[int, Field(primary_key=True, autoincrement=True)]
            code: Annotated[str, String(12), Field(unique=True)]

    columns = get_column_fields(Ann)
    assert get_id_attribute(Ann) == "id"
    assert columns["code"].column_type == String(12)
    assert columns["code"].field.unique


def test_get_id_attribute_returns_primary_key_name() -> None:
    assert get_id_attribute(Item) == "id"


def test_get_id_attribute_without_primary_key_raises() -> None:
    with detached_models():

        class NoKey(BaseModel):
            __tablename__ = "no_key"
            id: int = 0

    with pytest.raises(ValueError, match="No primary key field found on NoKey"):
        get_id_attribute(NoKey)


def test_get_table_name_returns_tablename() -> None:
    assert get_table_name(Item) == "intro_items"


def test_get_table_name_without_tablename_raises() -> None:
    with pytest.raises(ValueError, match="TimestampedModel does not declare __tablename__"):
        get_table_name(TimestampedModel)


def test_get_relations_and_projections_list_specs() -> None:
    assert set(get_relations(Item)) == {"tags", "owner"}
    assert get_relations(Item)["tags"].fk_column == "item_id"
    assert set(get_projections(Item)) == {"has_tags"}


def test_relation_spec_splits_table_and_column() -> None:
    relation = RelationField(foreign_key="users.id", cardinality=Cardinality.MANY_TO_ONE)
    assert (relation.fk_table, relation.fk_column) == ("users", "id")
    assert not relation.is_many


def test_relation_target_resolves_list_and_optional_annotations() -> None:
    assert relation_target(Item, "tags") is Tag
    assert relation_target(Item, "owner") is Tag


def test_model_profiles_include_default_and_declared_profiles() -> None:
    assert model_profiles(Item) == frozenset({"default", "full", "owner", "flags"})
    assert model_profiles(Tag) == frozenset({"default"})
