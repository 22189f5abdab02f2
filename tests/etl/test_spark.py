"""The same declarations on PySpark (local mode): parity with Polars, backend selection."""

from __future__ import annotations

import sys
import types

import pytest

from loom_django.core.errors import MissingDependency
from loom_django.etl import (
    ETLParams,
    ETLPipeline,
    ETLProcess,
    FromTable,
    IntoTable,
    SchemaError,
    StepSQL,
    col,
    params,
)
from loom_django.etl.runner import ETLRunner
from tests.testapp.models import Book


class P(ETLParams):
    min_pages: int = 10


class Double(StepSQL[P, object]):
    books = FromTable(Book).where(col("pages") >= params.min_pages).columns("title", "pages")
    target = IntoTable(Book).append()
    sql = """SELECT title || '-x2' AS title, pages * 2 AS pages FROM books
             WHERE pages < {{ params.min_pages }} * 100"""


def _pipe() -> type:
    proc = types.new_class("Proc", (ETLProcess[P],), exec_body=lambda d: d.update(steps=[Double]))
    return types.new_class(
        "Pipe", (ETLPipeline[P],), exec_body=lambda d: d.update(processes=[proc])
    )


def _seed() -> None:
    Book.objects.all().delete()
    for title, pages in (("a", 5), ("b", 50), ("c", 500), ("d", 5000)):
        Book.objects.create(title=title, pages=pages)


def _copies() -> set[tuple[str, int]]:
    return set(Book.objects.filter(title__endswith="-x2").values_list("title", "pages"))


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.django_db
def test_stepsql_pipeline_writes_the_same_rows_on_polars_and_spark(spark):
    """etl §12.62: a StepSQL-only pipeline writes the same rows on Polars and Spark."""
    _seed()
    polars_result = ETLRunner().run(_pipe(), P())
    on_polars = _copies()
    _seed()
    spark_result = ETLRunner(backend="spark", spark=spark).run(_pipe(), P())
    assert on_polars == _copies() == {("b-x2", 100), ("c-x2", 1000)}
    assert polars_result.rows_written == spark_result.rows_written == 2


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.django_db
def test_spark_write_without_a_required_column_is_a_schema_error(spark):
    class Wrong(StepSQL[P, object]):
        target = IntoTable(Book).append()
        sql = staticmethod(lambda params: "SELECT 1 AS pages")

    proc = types.new_class("Proc", (ETLProcess[P],), exec_body=lambda d: d.update(steps=[Wrong]))
    pipe = types.new_class(
        "Pipe", (ETLPipeline[P],), exec_body=lambda d: d.update(processes=[proc])
    )
    with pytest.raises(SchemaError, match="title"):
        ETLRunner(backend="spark", spark=spark).run(pipe, P())
    assert not Book.objects.exists()


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.django_db
def test_an_empty_django_source_on_spark_keeps_its_schema_and_writes_nothing(spark):
    """etl §12.62: a source with no rows is typed from the model on Spark too (no schema
    inference from an empty dataset)."""
    Book.objects.all().delete()
    result = ETLRunner(backend="spark", spark=spark).run(_pipe(), P())
    assert result.status == "success" and result.rows_written == 0
    assert not Book.objects.exists()


def test_spark_backend_without_pyspark_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(MissingDependency, match="'spark' extra"):
        ETLRunner(backend="spark")
