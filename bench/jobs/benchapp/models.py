"""The row both benchmarked tasks read."""

from __future__ import annotations

from loom_django.core.model import BaseModel, ColumnField


class BenchItem(BaseModel):
    __tablename__ = "bench_items"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    name: str = ColumnField(length=80)
    stock: int = ColumnField()
