"""Loom models used by the ORM and door tests, plus two plain Django models (existing code)."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

from django.db import models

from loom_django.core.model import (
    BaseModel,
    BigInteger,
    Cardinality,
    ColumnField,
    OnDelete,
    ProjectionField,
    RelationField,
    ServerDefault,
    TimestampedModel,
)
from loom_django.core.projection import CountLoader, ExistsLoader, JoinFieldsLoader
from loom_django.etl.models import EtlAuditFields


class User(TimestampedModel):
    __tablename__ = "users"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    full_name: str = ColumnField(length=120)
    email: str = ColumnField(length=255, unique=True, index=True)
    nickname: str | None = ColumnField(length=40)
    addresses: list[Address] = RelationField(
        foreign_key="user_id", cardinality=Cardinality.ONE_TO_MANY, profiles=("with_addresses",)
    )


class Address(BaseModel):
    __tablename__ = "addresses"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    user_id: int = ColumnField(foreign_key="users.id", on_delete=OnDelete.CASCADE, index=True)
    label: str = ColumnField(length=80)
    city: str = ColumnField(length=120)
    user: User | None = RelationField(
        foreign_key="user_id", cardinality=Cardinality.MANY_TO_ONE, profiles=("with_user",)
    )


class Order(TimestampedModel):
    __tablename__ = "orders"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    user_id: int = ColumnField(foreign_key="users.id", on_delete=OnDelete.CASCADE, index=True)
    address_id: int = ColumnField(foreign_key="addresses.id", on_delete=OnDelete.RESTRICT)
    status: str = ColumnField(length=40, default="created")
    payment_method: str = ColumnField(length=60, default="card")
    placed_by: int | None = ColumnField(foreign_key="users.id", on_delete=OnDelete.SET_NULL)


class Product(TimestampedModel):
    __tablename__ = "products"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    sku: str = ColumnField(length=64, unique=True, index=True)
    name: str = ColumnField(length=150)
    category: str = ColumnField(length=120, index=True, default="general")
    price_cents: int = ColumnField()
    stock: int = ColumnField()
    note: str | None = ColumnField(length=50)
    reviews: list[Review] = RelationField(
        foreign_key="product_id", cardinality=Cardinality.ONE_TO_MANY, profiles=("with_details",)
    )
    tags: list[Tag] = RelationField(
        foreign_key="product_id",
        cardinality=Cardinality.MANY_TO_MANY,
        secondary="product_tags",
        profiles=("with_tags",),
    )
    count_reviews: int = ProjectionField(
        loader=CountLoader("Review"), profiles=("with_details", "with_counts"), default=0
    )
    has_reviews: bool = ProjectionField(
        loader=ExistsLoader("Review"), profiles=("with_details", "with_counts"), default=False
    )
    review_snippets: list[dict[str, Any]] = ProjectionField(
        loader=JoinFieldsLoader(model="Review", value_columns=("rating", "body")),
        profiles=("with_details", "with_snippets"),
        default=[],
    )


class Review(BaseModel):
    __tablename__ = "reviews"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    product_id: int = ColumnField(foreign_key="products.id", on_delete=OnDelete.CASCADE)
    author_id: int | None = ColumnField(foreign_key="users.id", on_delete=OnDelete.SET_NULL)
    rating: int = ColumnField()
    body: str = ColumnField(default="")
    product: Product | None = RelationField(
        foreign_key="product_id", cardinality=Cardinality.MANY_TO_ONE, profiles=("with_product",)
    )


class Tag(BaseModel):
    __tablename__ = "tags"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    name: str = ColumnField(length=40, unique=True)


class ProductTag(BaseModel):
    __tablename__ = "product_tags"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    product_id: int = ColumnField(foreign_key="products.id", on_delete=OnDelete.CASCADE)
    tag_id: int = ColumnField(foreign_key="tags.id", on_delete=OnDelete.NO_ACTION)


class Kind(BaseModel):
    """One column of every mapped kind (type-mapping tests)."""

    __tablename__ = "kinds"

    id: int = ColumnField(BigInteger, primary_key=True, autoincrement=True)
    title: str
    born: dt.date | None = None
    at: dt.datetime | None = None
    opens: dt.time | None = None
    tags: list[int] = ColumnField(default=[])
    codes: list[str] = ColumnField(default=["a", "b"])
    data: dict[str, Any] = ColumnField(default={})
    price: decimal.Decimal = ColumnField(default=decimal.Decimal("0.00"))
    ratio: float = 0.0
    flag: bool = False
    big: int = ColumnField(BigInteger, default=0)
    token: uuid.UUID | None = ColumnField(server_default=ServerDefault.UUID4)
    note: str | None = ColumnField(length=50)
    strict_note: str | None = ColumnField(length=50, nullable=False, default="x")


class Publisher(models.Model):
    """An existing, hand-written Django model."""

    name = models.CharField(max_length=100, unique=True)

    class Meta:
        app_label = "testapp"
        db_table = "legacy_publishers"


class Book(models.Model):
    """An existing Django model served through ``loom_model_for(Book)``."""

    title = models.CharField(max_length=200, db_index=True)
    pages = models.PositiveIntegerField(default=100)
    published = models.DateField(null=True, blank=True)
    publisher = models.ForeignKey(
        Publisher, on_delete=models.PROTECT, null=True, related_name="books"
    )
    code = models.UUIDField(default=uuid.uuid4, unique=True)
    added = models.DateTimeField(auto_now_add=True)
    changed = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "testapp"
        db_table = "legacy_books"


class Ghost(models.Model):
    """A model whose table was never migrated (``managed = False``)."""

    name = models.CharField(max_length=10)

    class Meta:
        app_label = "testapp"
        managed = False
        db_table = "etl_ghost_never_created"


class TierHistory(models.Model):
    """An SCD type 2 history of customer tiers (``IntoHistory`` tests)."""

    customer_id = models.IntegerField()
    tier = models.CharField(max_length=20)
    name = models.CharField(max_length=50, default="")
    region = models.CharField(max_length=10, default="eu")
    valid_from = models.DateField()
    valid_to = models.DateField(null=True)
    deleted_at = models.DateField(null=True)

    class Meta:
        app_label = "testapp"
        db_table = "etl_tier_history"


class AuditedSale(EtlAuditFields):
    """A model carrying the ETL audit columns, plus one custom audit column (``batch``)."""

    amount = models.IntegerField()
    batch = models.CharField(max_length=40, null=True)

    class Meta:
        app_label = "testapp"
        db_table = "etl_audited_sales"


class FieldZoo(models.Model):
    """One column of every Django field type of the ETL type mapping (spec §9.2)."""

    small = models.SmallIntegerField()
    integer = models.IntegerField()
    big = models.BigIntegerField()
    psmall = models.PositiveSmallIntegerField()
    pint = models.PositiveIntegerField()
    pbig = models.PositiveBigIntegerField()
    ratio = models.FloatField()
    price = models.DecimalField(max_digits=20, decimal_places=4)
    name = models.CharField(max_length=40)
    body = models.TextField()
    slug = models.SlugField()
    email = models.EmailField()
    url = models.URLField()
    ip = models.GenericIPAddressField()
    flag = models.BooleanField()
    day = models.DateField()
    at = models.DateTimeField()
    clock = models.TimeField()
    span = models.DurationField()
    code = models.UUIDField()
    blob = models.BinaryField()
    data = models.JSONField()
    publisher = models.ForeignKey(Publisher, on_delete=models.CASCADE, null=True)

    class Meta:
        app_label = "testapp"
        db_table = "etl_field_zoo"


class RawOrder(models.Model):
    """``raw.orders`` of the reference quickstart, routed to a Django model (spec §12.87)."""

    amount = models.FloatField()
    run_date = models.DateField()

    class Meta:
        app_label = "testapp"
        db_table = "etl_raw_orders"


class StagingOrder(models.Model):
    """``staging.orders`` of the reference quickstart (spec §12.87)."""

    amount = models.FloatField()
    run_date = models.DateField()

    class Meta:
        app_label = "testapp"
        db_table = "etl_staging_orders"
