"""Admin pages of the store; admin writes bypass the use cases (rules and computes do not run)."""

from __future__ import annotations

from loom_django.admin import register
from store.models import Address, Order, OrderItem, Product, User

register(User, search_fields=("full_name", "email"), ordering=("id",))
register(Address, search_fields=("city", "zip_code"), list_filter=("country",))
register(Product, list_filter=("category",), ordering=("sku",))
register(Order, list_filter=("status", "payment_method"), date_hierarchy="created_at")
register(OrderItem)
