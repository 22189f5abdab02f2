"""Loom models of the store (seed 001): users, their addresses, products, orders and items.

Each becomes a Django model of this app (``db_table`` = ``__tablename__``), so
``makemigrations``, ``migrate`` and the admin work on them as on any Django model.
"""

from __future__ import annotations

from django.db import models

from loom_django.core.model import BaseModel, ColumnField, OnDelete, TimestampedModel

__all__ = ["Address", "DailySales", "Order", "OrderItem", "Product", "User"]


class User(TimestampedModel):
    """A customer."""

    __tablename__ = "users"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    full_name: str = ColumnField(length=120)
    email: str = ColumnField(length=255, unique=True, index=True)


class Address(BaseModel):
    """A postal address of a user; deleted with its user."""

    __tablename__ = "addresses"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    user_id: int = ColumnField(foreign_key="users.id", on_delete=OnDelete.CASCADE, index=True)
    label: str = ColumnField(length=80)
    street: str = ColumnField(length=255)
    city: str = ColumnField(length=120)
    country: str = ColumnField(length=120)
    zip_code: str = ColumnField(length=20)


class Product(TimestampedModel):
    """A product in the catalogue."""

    __tablename__ = "products"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    sku: str = ColumnField(length=64, unique=True, index=True)
    name: str = ColumnField(length=150)
    category: str = ColumnField(length=120, index=True)
    price_cents: int = ColumnField()
    stock: int = ColumnField()


class Order(TimestampedModel):
    """An order placed by a user, shipped to one of their addresses."""

    __tablename__ = "orders"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    user_id: int = ColumnField(foreign_key="users.id", on_delete=OnDelete.CASCADE, index=True)
    address_id: int = ColumnField(
        foreign_key="addresses.id", on_delete=OnDelete.RESTRICT, index=True
    )
    status: str = ColumnField(length=40, default="created")
    payment_method: str = ColumnField(length=60, default="card")


class OrderItem(BaseModel):
    """One product line of an order; deleted with its order, blocks deleting its product."""

    __tablename__ = "order_items"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    order_id: int = ColumnField(foreign_key="orders.id", on_delete=OnDelete.CASCADE, index=True)
    product_id: int = ColumnField(
        foreign_key="products.id", on_delete=OnDelete.RESTRICT, index=True
    )
    quantity: int = ColumnField()
    unit_price_cents: int = ColumnField()


class DailySales(models.Model):
    """Units and revenue per product and day, written by the ``store.daily_sales`` pipeline."""

    day = models.DateField()
    product_id = models.BigIntegerField()
    orders = models.IntegerField()
    units = models.IntegerField()
    revenue_cents = models.BigIntegerField()

    class Meta:
        db_table = "daily_sales"
        constraints = [
            models.UniqueConstraint(fields=["day", "product_id"], name="daily_sales_day_product")
        ]
        verbose_name_plural = "daily sales"

    def __str__(self) -> str:
        return f"{self.day} product {self.product_id}: {self.units} units"
