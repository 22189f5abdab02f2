"""Baseline (b): the five store endpoints written by hand with django-ninja and the ORM.

Idiomatic ninja: pydantic ``Schema`` responses, ``get_object_or_404``, a count query for
the offset page, keyset pagination on ``id`` for the cursor page, and PATCH as a single
``UPDATE … RETURNING`` (what a performance-minded hand-written view does).
"""

from __future__ import annotations

import base64
import datetime as dt
import re

from django.apps import apps
from django.db import IntegrityError, connection
from django.shortcuts import get_object_or_404
from ninja import NinjaAPI, Schema

api = NinjaAPI(urls_namespace="bench-ninja", docs_url=None, openapi_url=None)


def _products():  # type: ignore[no-untyped-def]
    return apps.get_model("store", "Product")


def _users():  # type: ignore[no-untyped-def]
    return apps.get_model("store", "User")


class ProductOut(Schema):
    id: int
    sku: str
    name: str
    category: str
    price_cents: int
    stock: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ProductPage(Schema):
    items: list[ProductOut]
    total_count: int
    page: int
    limit: int
    has_next: bool


class ProductCursorPage(Schema):
    items: list[ProductOut]
    next_cursor: str | None
    has_next: bool


class ProductPatch(Schema):
    sku: str | None = None
    name: str | None = None
    category: str | None = None
    price_cents: int | None = None
    stock: int | None = None


class UserIn(Schema):
    full_name: str
    email: str


class UserOut(Schema):
    id: int
    full_name: str
    email: str
    created_at: dt.datetime
    updated_at: dt.datetime


_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COLUMNS = ("id", "sku", "name", "category", "price_cents", "stock", "created_at", "updated_at")


@api.get("/products/{product_id}", response=ProductOut)
def get_product(request, product_id: int):  # type: ignore[no-untyped-def]
    return get_object_or_404(_products(), pk=product_id)


@api.get("/products/", response=ProductPage)
def list_products(request, page: int = 1, limit: int = 20):  # type: ignore[no-untyped-def]
    queryset = _products().objects.order_by("id")
    total = queryset.count()
    offset = (page - 1) * limit
    items = list(queryset[offset : offset + limit])
    return {
        "items": items,
        "total_count": total,
        "page": page,
        "limit": limit,
        "has_next": offset + len(items) < total,
    }


@api.get("/cursor-products/", response=ProductCursorPage)
def cursor_products(request, limit: int = 20, after: str | None = None):  # type: ignore[no-untyped-def]
    queryset = _products().objects.order_by("id")
    if after:
        queryset = queryset.filter(id__gt=int(base64.urlsafe_b64decode(after.encode())))
    rows = list(queryset[: limit + 1])
    has_next = len(rows) > limit
    rows = rows[:limit]
    token = base64.urlsafe_b64encode(str(rows[-1].id).encode()).decode() if has_next else None
    return {"items": rows, "next_cursor": token, "has_next": has_next}


@api.patch("/products/{product_id}", response=ProductOut)
def patch_product(request, product_id: int, payload: ProductPatch):  # type: ignore[no-untyped-def]
    data = payload.dict(exclude_unset=True)
    table = _products()._meta.db_table
    assignments = ", ".join(f"{column} = %s" for column in data)
    sql = (
        f"UPDATE {table} SET {assignments}{', ' if data else ''}updated_at = NOW() "
        f"WHERE id = %s RETURNING {', '.join(_COLUMNS)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*data.values(), product_id])
        row = cursor.fetchone()
    if row is None:
        get_object_or_404(_products(), pk=-1)
    return dict(zip(_COLUMNS, row, strict=True))


@api.post("/users/", response={201: UserOut, 422: dict})
def create_user(request, payload: UserIn):  # type: ignore[no-untyped-def]
    problems = []
    if not payload.full_name.strip():
        problems.append({"field": "full_name", "message": "full_name must not be blank"})
    if not _EMAIL_RE.fullmatch(payload.email):
        problems.append({"field": "email", "message": "email must be valid"})
    if problems:
        return 422, {"detail": problems}
    # The fastest hand-written form: one INSERT in autocommit, uniqueness looked at only
    # when the constraint refuses the row.
    try:
        return 201, _users().objects.create(**payload.dict())
    except IntegrityError:
        return 422, {"detail": [{"field": "email_exists", "message": "email already exists"}]}
