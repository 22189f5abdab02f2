"""Loom models become Django models (core spec §2.2, §2.4, §2.5; criteria 2, 4, 5, 7)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.functions import Now

from loom_django.core.model import (
    BaseModel,
    Cardinality,
    ColumnField,
    OnDelete,
    Postgres,
    RelationField,
    detached_models,
    get_column_fields,
)
from loom_django.orm import RepositoryDjango, django_model_for, loom_model_for
from loom_django.orm.builder import build_django_model
from loom_django.orm.fields import django_field
from loom_django.orm.functions import CopyDefault, RandomUUID4
from tests.testapp.models import Address, Kind, Order, Product, ProductTag, Review, Tag, User

from .conftest import run
from .project import run_django, write_project


def field(loom: type, name: str) -> models.Field:
    return django_model_for(loom)._meta.get_field(name)


def build_and_forget(loom: type) -> type[models.Model]:
    """Build the Django model of a detached loom model, then drop it from the registry."""
    from django.apps import apps

    model = build_django_model(loom, "sqlite")
    apps.all_models[model._meta.app_label].pop(model._meta.model_name)
    apps.clear_cache()
    return model


def test_seed_product_becomes_a_django_model_with_the_table_name():
    model = django_model_for(Product)
    assert model._meta.db_table == "products"
    assert model._meta.app_label == "testapp"
    assert model.__name__ == "Product"


def test_autoincrement_integer_primary_key_is_an_auto_field():
    pk = field(Product, "id")
    assert isinstance(pk, models.AutoField) and pk.primary_key
    assert isinstance(field(Kind, "id"), models.BigAutoField)


def test_sku_is_a_unique_indexed_char_field_of_length_64():
    sku = field(Product, "sku")
    assert type(sku) is models.CharField
    assert (sku.max_length, sku.unique, sku.db_index) == (64, True, True)


def test_integer_columns_are_integer_fields():
    assert type(field(Product, "price_cents")) is models.IntegerField
    assert type(field(Product, "stock")) is models.IntegerField


def test_timestamps_are_nullable_with_a_database_default_of_now():
    for name in ("created_at", "updated_at"):
        column = field(Product, name)
        assert isinstance(column, models.DateTimeField)
        assert column.null is True
        assert isinstance(column.db_default, Now)


def test_str_without_length_is_a_text_field():
    assert type(field(Kind, "title")) is models.TextField


def test_date_time_and_datetime_map_to_their_fields():
    assert type(field(Kind, "born")) is models.DateField
    assert type(field(Kind, "opens")) is models.TimeField
    assert type(field(Kind, "at")) is models.DateTimeField


def test_containers_map_to_json_fields():
    assert isinstance(field(Kind, "tags"), models.JSONField)
    assert isinstance(field(Kind, "data"), models.JSONField)


def test_decimal_maps_to_decimal_field_10_2():
    price = field(Kind, "price")
    assert isinstance(price, models.DecimalField)
    assert (price.max_digits, price.decimal_places) == (10, 2)


def test_scalar_kinds_map_to_their_fields():
    assert type(field(Kind, "ratio")) is models.FloatField
    assert type(field(Kind, "flag")) is models.BooleanField
    assert type(field(Kind, "big")) is models.BigIntegerField
    assert type(field(Kind, "token")) is models.UUIDField


def test_defaults_are_migration_serialisable():
    assert field(Kind, "tags").default is list
    assert field(Kind, "data").default is dict
    assert field(Kind, "codes").default == CopyDefault(["a", "b"])
    assert field(Kind, "codes").default() == ["a", "b"]
    assert field(Kind, "ratio").default == 0.0
    assert field(Order, "status").default == "created"


def test_uuid4_server_default_has_python_and_database_defaults():
    token = field(Kind, "token")
    assert callable(token.default)
    assert isinstance(token.db_default, RandomUUID4)


def test_nullable_follows_the_annotation_unless_given():
    assert field(Product, "note").null is True
    assert field(Kind, "strict_note").null is False
    assert field(Product, "name").null is False
    assert get_column_fields(Kind)["strict_note"].nullable is False


def test_foreign_key_column_keeps_its_name_as_attname():
    fk = field(Address, "user")
    assert isinstance(fk, models.ForeignKey)
    assert (fk.attname, fk.column) == ("user_id", "user_id")
    assert fk.related_model is django_model_for(User)


def test_foreign_key_not_ending_in_id_gets_db_column():
    fk = field(Order, "placed_by")
    assert fk.column == "placed_by"
    assert fk.remote_field.on_delete is models.SET_NULL


def test_on_delete_policies_map_to_django_handlers():
    assert field(Address, "user").remote_field.on_delete is models.CASCADE
    assert field(Order, "address").remote_field.on_delete is models.RESTRICT
    assert field(Review, "author").remote_field.on_delete is models.SET_NULL
    assert field(ProductTag, "tag").remote_field.on_delete is models.DO_NOTHING


def test_related_name_is_the_declared_one_to_many_relation():
    assert field(Address, "user").remote_field.related_name == "addresses"
    assert field(Review, "product").remote_field.related_name == "reviews"


def test_foreign_key_without_reverse_relation_has_no_reverse_accessor():
    assert field(Order, "user").remote_field.related_name == "+"
    assert field(Review, "author").remote_field.related_name == "+"


def test_many_to_many_relation_goes_through_the_link_model():
    tags = field(Product, "tags")
    assert isinstance(tags, models.ManyToManyField)
    assert tags.remote_field.through is django_model_for(ProductTag)
    assert tags.related_model is django_model_for(Tag)


def test_accessors_go_both_ways():
    assert Product.__django_model__ is django_model_for(Product)
    assert loom_model_for(django_model_for(Product)) is Product


def test_field_order_follows_struct_field_order():
    names = [f.attname for f in django_model_for(Product)._meta.concrete_fields]
    assert names == list(get_column_fields(Product))


def test_set_null_on_a_not_null_column_is_refused():
    with detached_models():

        class Broken(BaseModel):
            __tablename__ = "broken_set_null"
            __app_label__ = "testapp"
            id: int = ColumnField(primary_key=True, autoincrement=True)
            user_id: int = ColumnField(foreign_key="users.id", on_delete=OnDelete.SET_NULL)

    with pytest.raises(ImproperlyConfigured, match="SET_NULL requires a nullable column"):
        build_django_model(Broken, "sqlite")


def test_model_without_primary_key_is_refused():
    with detached_models():

        class NoKey(BaseModel):
            __tablename__ = "no_key"
            __app_label__ = "testapp"
            name: str = ColumnField(length=10)

    with pytest.raises(ImproperlyConfigured, match="No primary key field found on NoKey"):
        build_django_model(NoKey, "sqlite")


def test_foreign_key_name_clashing_with_another_attribute_is_refused():
    with detached_models():

        class Clash(BaseModel):
            __tablename__ = "clash"
            __app_label__ = "testapp"
            id: int = ColumnField(primary_key=True, autoincrement=True)
            owner_id: int = ColumnField(foreign_key="users.id")
            owner: str = ColumnField(length=10)

    with pytest.raises(ImproperlyConfigured, match="clashes with another attribute"):
        build_django_model(Clash, "sqlite")


def test_many_to_one_relation_may_share_the_foreign_key_name():
    with detached_models():

        class Pet(BaseModel):
            __tablename__ = "pets_probe"
            __app_label__ = "testapp"
            id: int = ColumnField(primary_key=True, autoincrement=True)
            owner_id: int = ColumnField(foreign_key="users.id")
            owner: User | None = RelationField(
                foreign_key="owner_id", cardinality=Cardinality.MANY_TO_ONE
            )

    model = build_and_forget(Pet)
    owner = model._meta.get_field("owner")
    assert (owner.attname, owner.remote_field.related_name) == ("owner_id", "+")


def test_postgres_types_are_refused_on_other_databases():
    with detached_models():

        class Doc(BaseModel):
            __tablename__ = "docs_probe"
            id: int = ColumnField(primary_key=True, autoincrement=True)
            body: dict = ColumnField(Postgres.JSONB, default={})

    info = get_column_fields(Doc)["body"]
    with pytest.raises(ImproperlyConfigured, match="needs PostgreSQL"):
        django_field("Doc", info, "sqlite")
    assert isinstance(django_field("Doc", info, "postgresql"), models.JSONField)


def test_postgres_array_and_tsvector_map_to_contrib_postgres_fields():
    from django.contrib.postgres.fields import ArrayField
    from django.contrib.postgres.search import SearchVectorField

    from loom_django.core.model import Integer

    with detached_models():

        class Searchable(BaseModel):
            __tablename__ = "searchable_probe"
            id: int = ColumnField(primary_key=True, autoincrement=True)
            scores: list[int] = ColumnField(Postgres.ARRAY(Integer), default=[])
            body: str = ColumnField(Postgres.TSVECTOR)

    columns = get_column_fields(Searchable)
    scores = django_field("Searchable", columns["scores"], "postgresql")
    assert isinstance(scores, ArrayField)
    assert isinstance(scores.base_field, models.IntegerField)
    assert isinstance(django_field("Searchable", columns["body"], "postgresql"), SearchVectorField)


def test_model_defined_after_startup_has_no_django_model():
    class Late(BaseModel):
        __tablename__ = "late_models"
        __app_label__ = "testapp"
        id: int = ColumnField(primary_key=True, autoincrement=True)

    with pytest.raises(ImproperlyConfigured, match=r"import it from .*models"):
        django_model_for(Late)


def test_model_without_primary_key_stops_startup(tmp_path):
    write_project(
        tmp_path,
        """
        from loom_django.core.model import BaseModel, ColumnField

        class NoKey(BaseModel):
            __tablename__ = "no_key"
            name: str = ColumnField(length=10)
        """,
    )
    result = run_django(tmp_path)
    assert result.returncode != 0
    assert "No primary key field found on NoKey" in result.stderr


def test_model_outside_installed_apps_stops_startup(tmp_path):
    write_project(
        tmp_path,
        "import loose_models  # noqa: F401\n",
        {
            "loose_models.py": """
                from loom_django.core.model import BaseModel, ColumnField

                class Stray(BaseModel):
                    __tablename__ = "strays"
                    id: int = ColumnField(primary_key=True, autoincrement=True)
                """,
        },
    )
    result = run_django(tmp_path)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "Stray" in result.stderr


def test_app_label_can_be_declared_for_a_model_outside_apps(tmp_path):
    write_project(
        tmp_path,
        "import loose_models  # noqa: F401\n",
        {
            "loose_models.py": """
                from loom_django.core.model import BaseModel, ColumnField

                class Stray(BaseModel):
                    __tablename__ = "strays"
                    __app_label__ = "shop"
                    id: int = ColumnField(primary_key=True, autoincrement=True)
                """,
        },
    )
    result = run_django(tmp_path, "check")
    assert result.returncode == 0, result.stderr


def test_back_populates_of_a_many_to_one_names_the_reverse_accessor():
    with detached_models():

        class Visit(BaseModel):
            __tablename__ = "visits_probe"
            __app_label__ = "testapp"
            id: int = ColumnField(primary_key=True, autoincrement=True)
            user_id: int = ColumnField(foreign_key="users.id", on_delete=OnDelete.CASCADE)
            user: User | None = RelationField(
                foreign_key="user_id", cardinality=Cardinality.MANY_TO_ONE, back_populates="visits"
            )

    model = build_and_forget(Visit)
    assert model._meta.get_field("user").remote_field.related_name == "visits"


def test_datetimes_are_timezone_aware(db):
    kind = run(
        RepositoryDjango(Kind).create(
            {"title": "t", "at": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)}
        )
    )
    assert kind.at.tzinfo is not None
    assert kind.at.utcoffset() == dt.timedelta(0)


def test_model_waiting_for_an_unknown_table_fails_the_mapping_check(tmp_path):
    write_project(
        tmp_path,
        """
        from loom_django.core.model import BaseModel, ColumnField

        class Orphan(BaseModel):
            __tablename__ = "orphans"
            id: int = ColumnField(primary_key=True, autoincrement=True)
            owner_id: int = ColumnField(foreign_key="nowhere.id")
        """,
    )
    result = run_django(tmp_path, "check")
    assert result.returncode != 0
    assert "Cannot map loom model Orphan" in result.stderr
    assert "no model has __tablename__ 'nowhere'" in result.stderr


def test_mapping_check_passes_for_the_test_app():
    from loom_django.orm.checks import check_mapping

    assert check_mapping() == []
