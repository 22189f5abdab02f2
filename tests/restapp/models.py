"""Loom models served by the REST tests (products with reviews, customers and orders)."""

from __future__ import annotations

from typing import Any

from loom_django.core.model import (
    BaseModel,
    Cardinality,
    ColumnField,
    OnDelete,
    ProjectionField,
    RelationField,
    TimestampedModel,
)
from loom_django.core.projection import CountLoader, ExistsLoader, JoinFieldsLoader


class RestReview(BaseModel):
    __tablename__ = "rest_reviews"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    product_id: int = ColumnField(
        foreign_key="rest_products.id", on_delete=OnDelete.CASCADE, index=True
    )
    body: str = ColumnField(length=200, default="")
    rating: int = ColumnField(default=5)


class RestProduct(TimestampedModel):
    __tablename__ = "rest_products"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    sku: str = ColumnField(length=64, unique=True, index=True)
    name: str = ColumnField(length=150)
    category: str = ColumnField(length=120, default="general")
    price_cents: int = ColumnField()
    stock: int = ColumnField()
    price: float = ColumnField(default=0.0)
    note: str | None = ColumnField(length=50, nullable=True)
    reviews: list[RestReview] = RelationField(
        foreign_key="product_id",
        cardinality=Cardinality.ONE_TO_MANY,
        profiles=("with_details",),
    )
    has_reviews: bool = ProjectionField(
        loader=ExistsLoader(RestReview), profiles=("with_details",), default=False
    )
    count_reviews: int = ProjectionField(
        loader=CountLoader(RestReview), profiles=("with_details",), default=0
    )
    review_snippets: list[dict[str, Any]] = ProjectionField(
        loader=JoinFieldsLoader(model=RestReview, value_columns=("body",)),
        profiles=("with_details",),
        default=[],
    )


class RestCustomer(TimestampedModel):
    __tablename__ = "rest_customers"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    name: str = ColumnField(length=120)
    email: str = ColumnField(length=255, unique=True)


class RestAddress(BaseModel):
    __tablename__ = "rest_addresses"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    customer_id: int = ColumnField(
        foreign_key="rest_customers.id", on_delete=OnDelete.CASCADE, index=True
    )
    city: str = ColumnField(length=120)


class RestOrder(TimestampedModel):
    __tablename__ = "rest_orders"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    customer_id: int = ColumnField(
        foreign_key="rest_customers.id", on_delete=OnDelete.RESTRICT, index=True
    )
    status: str = ColumnField(length=40, default="created")


class RestOrderItem(BaseModel):
    __tablename__ = "rest_order_items"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    order_id: int = ColumnField(
        foreign_key="rest_orders.id", on_delete=OnDelete.CASCADE, index=True
    )
    quantity: int = ColumnField()
