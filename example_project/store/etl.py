"""ETL pipelines of the store, discovered by the ETL door (``manage.py loom_etl list``).

* ``store.import_products`` reads the bundled CSV, converts prices to cents and runs every
  row through ``CreateProductUseCase`` (the same rules as the API); bad rows go to a rejects
  file under ``var/etl/``.
* ``store.daily_sales`` sums one day's order items per product into ``daily_sales``.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from loom_django.etl import (
    ETLParams,
    ETLPipeline,
    ETLProcess,
    ETLStep,
    Format,
    FromFile,
    FromTable,
    IntoFile,
    IntoTable,
    IntoUseCase,
    params,
)
from store.models import DailySales, Order, OrderItem
from store.use_cases import CreateProductUseCase

__all__ = ["DailySalesPipeline", "ImportProductsPipeline"]


class ImportParams(ETLParams):
    feed: str = "store/data/products.csv"
    run_date: date = date(2026, 1, 1)


class ImportProducts(ETLStep[ImportParams]):
    feed = FromFile("{feed}", format=Format.CSV)
    target = IntoUseCase(
        CreateProductUseCase,
        on_error="reject",
        rejects=IntoFile("var/etl/rejects/products_{run_date}.csv", format=Format.CSV),
    )

    def execute(self, params: ImportParams, *, feed: pl.LazyFrame) -> pl.LazyFrame:
        return feed.with_columns(
            pl.col("sku").fill_null(""),
            (pl.col("price") * 100).round(0).cast(pl.Int64).alias("price_cents"),
        ).drop("price")


class Catalog(ETLProcess[ImportParams]):
    steps = [ImportProducts]


class ImportProductsPipeline(ETLPipeline[ImportParams]):
    """Import the product CSV through the store's create-product rules."""

    name = "store.import_products"
    processes = [Catalog]


class DayParams(ETLParams):
    run_date: date


class SummariseDay(ETLStep[DayParams]):
    orders = FromTable(Order).columns("id", "created_at", "status")
    items = FromTable(OrderItem).columns("order_id", "product_id", "quantity", "unit_price_cents")
    target = IntoTable(DailySales).replace_partition(day=params.run_date)

    def execute(
        self, params: DayParams, *, orders: pl.LazyFrame, items: pl.LazyFrame
    ) -> pl.LazyFrame:
        day_orders = orders.filter(
            (pl.col("created_at").dt.date() == params.run_date) & (pl.col("status") != "cancelled")
        )
        return (
            items.join(day_orders, left_on="order_id", right_on="id")
            .group_by("product_id")
            .agg(
                pl.col("order_id").n_unique().cast(pl.Int32).alias("orders"),
                pl.col("quantity").sum().cast(pl.Int32).alias("units"),
                (pl.col("quantity") * pl.col("unit_price_cents")).sum().alias("revenue_cents"),
            )
            .with_columns(pl.lit(params.run_date).alias("day"))
        )


class Sales(ETLProcess[DayParams]):
    steps = [SummariseDay]


class DailySalesPipeline(ETLPipeline[DayParams]):
    """Units and revenue per product for one day, from orders and order items."""

    name = "store.daily_sales"
    processes = [Sales]
