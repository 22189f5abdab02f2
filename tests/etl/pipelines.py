"""Pipelines the command tests run by dotted path."""

from __future__ import annotations

from datetime import date

import polars as pl

from loom_django.etl import ETLParams, ETLPipeline, ETLProcess, ETLStep, FromTable, IntoTable
from tests.testapp.models import Book


class DayParams(ETLParams):
    run_date: date
    pages: int = 1


class LoadBooks(ETLStep[DayParams]):
    target = IntoTable(Book).append()

    def execute(self, params: DayParams) -> pl.LazyFrame:
        return pl.LazyFrame({"title": [params.run_date.isoformat()], "pages": [params.pages]})


class Books(ETLProcess[DayParams]):
    steps = [LoadBooks]


class BooksPipeline(ETLPipeline[DayParams]):
    processes = [Books]


class CopyBooks(ETLStep[DayParams]):
    books = FromTable(Book).columns("title", "pages")
    target = IntoTable(Book).append()

    def execute(self, params: DayParams, *, books: pl.LazyFrame) -> pl.LazyFrame:
        raise RuntimeError("copy failed")


class Failing(ETLProcess[DayParams]):
    steps = [CopyBooks]


class FailingPipeline(ETLPipeline[DayParams]):
    processes = [Failing]
