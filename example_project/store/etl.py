"""ETL pipelines of the store, discovered by the ETL door (``manage.py loom_etl list``).

Both are ``StepSQL`` steps over declared sources, so they run unchanged on Polars and on
Spark (``--backend spark``).

* ``store.import_products`` reads the bundled CSV, converts prices to cents and runs every
  row through ``CreateProductUseCase`` (the same rules as the API); bad rows go to a rejects
  file under ``var/etl/``.
* ``store.daily_sales`` sums one day's order items per product into ``daily_sales``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from loom_django.etl import (
    ETLParams,
    ETLPipeline,
    ETLProcess,
    Format,
    FromFile,
    FromTable,
    IntoFile,
    IntoTable,
    IntoUseCase,
    StepSQL,
    col,
    params,
)
from store.models import DailySales, Order, OrderItem
from store.use_cases import CreateProductUseCase

__all__ = ["DailySalesPipeline", "ImportProductsPipeline"]


class ImportParams(ETLParams):
    feed: str = "store/data/products.csv"
    run_date: date = date(2026, 1, 1)


class ImportProducts(StepSQL[ImportParams, Any]):
    """Prices arrive in units; the use case wants cents. SQL, so it runs on both backends."""

    feed = FromFile("{feed}", format=Format.CSV)
    target = IntoUseCase(
        CreateProductUseCase,
        on_error="reject",
        rejects=IntoFile("var/etl/rejects/products_{run_date}.csv", format=Format.CSV),
    )
    sql = """
        SELECT COALESCE(sku, '') AS sku, name, category, stock,
               CAST(ROUND(price * 100) AS BIGINT) AS price_cents
        FROM feed
    """


class Catalog(ETLProcess[ImportParams]):
    steps = [ImportProducts]


class ImportProductsPipeline(ETLPipeline[ImportParams]):
    """Import the product CSV through the store's create-product rules."""

    name = "store.import_products"
    processes = [Catalog]


class DayParams(ETLParams):
    run_date: date


class SummariseDay(StepSQL[DayParams, Any]):
    """One day's order items per product (cancelled orders excluded, pushed into the SQL)."""

    orders = FromTable(Order).where(col("status") != "cancelled").columns("id", "created_at")
    items = FromTable(OrderItem).columns("order_id", "product_id", "quantity", "unit_price_cents")
    target = IntoTable(DailySales).replace_partition(day=params.run_date)
    sql = """
        SELECT i.product_id AS product_id,
               CAST(COUNT(DISTINCT i.order_id) AS INT) AS orders,
               CAST(SUM(i.quantity) AS INT) AS units,
               CAST(SUM(i.quantity * i.unit_price_cents) AS BIGINT) AS revenue_cents,
               CAST({{ params.run_date }} AS DATE) AS day
        FROM items AS i JOIN orders AS o ON i.order_id = o.id
        WHERE CAST(o.created_at AS DATE) = CAST({{ params.run_date }} AS DATE)
        GROUP BY i.product_id
    """


class Sales(ETLProcess[DayParams]):
    steps = [SummariseDay]


class DailySalesPipeline(ETLPipeline[DayParams]):
    """Units and revenue per product for one day, from orders and order items."""

    name = "store.daily_sales"
    processes = [Sales]
