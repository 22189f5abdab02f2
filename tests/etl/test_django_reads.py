"""Reading Django tables: predicates in the SQL, batched fetches, the test transaction
(spec §9.3; §12 items 65, 66)."""

from __future__ import annotations

import types
from datetime import date

import polars as pl
import pytest
from django.db import connection
from django.db.backends.signals import connection_created
from django.test.utils import CaptureQueriesContext

from loom_django.etl import (
    ETLParams,
    ETLPipeline,
    ETLProcess,
    ETLStep,
    Format,
    FromTable,
    IntoFile,
    IntoTable,
    _django_io,
    col,
)
from loom_django.etl.config import DjangoIOConfig, EtlConfig
from loom_django.etl.runner import ETLRunner
from tests.testapp.models import Book

pytestmark = pytest.mark.django_db


class P(ETLParams):
    run_date: date = date(2026, 3, 30)


class Export(ETLStep[P]):
    books = FromTable(Book).where(col("pages") >= 100).columns("title", "pages")
    target = IntoFile("books.csv", format=Format.CSV)

    def execute(self, params: P, *, books: pl.LazyFrame) -> pl.LazyFrame:
        return books.filter(pl.col("title") != "skip").sort("title")


def _pipeline(step: type = Export) -> type[ETLPipeline[P]]:
    proc = types.new_class("Proc", (ETLProcess[P],), exec_body=lambda d: d.update(steps=[step]))
    return types.new_class(
        "Pipe", (ETLPipeline[P],), exec_body=lambda d: d.update(processes=[proc])
    )


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch of rows fetched from the database."""
    batches: list[int] = []
    real = _django_io._to_frame

    def spy(rows, columns):  # type: ignore[no-untyped-def]
        batches.append(len(rows))
        return real(rows, columns)

    monkeypatch.setattr(_django_io, "_to_frame", spy)
    return batches


def test_where_is_in_the_sql_and_excluded_rows_are_never_fetched(files_root, fetched):
    """etl §12.65: the predicate is in the SELECT; an ``execute()`` filter still applies."""
    for title, pages in [("a", 5), ("b", 150), ("skip", 300), ("c", 99), ("d", 100)]:
        Book.objects.create(title=title, pages=pages)
    with CaptureQueriesContext(connection) as queries:
        ETLRunner().run(_pipeline(), P())
    select = next(q["sql"] for q in queries.captured_queries if "legacy_books" in q["sql"])
    assert "WHERE" in select and "pages" in select and ">=" in select
    if connection.vendor == "postgresql":
        assert select.startswith("DECLARE")  # a server-side (named) cursor
    assert sum(fetched) == 3  # b, skip, d: never a, c
    assert pl.read_csv(files_root / "books.csv").rows() == [("b", 150), ("d", 100)]


def test_rows_are_fetched_in_batches_of_read_batch_size(files_root, fetched):
    """etl §9.3: ``etl.django.read_batch_size`` rows per fetch."""
    Book.objects.bulk_create(Book(title=f"t{i}", pages=100 + i) for i in range(5))
    config = EtlConfig(django=DjangoIOConfig(read_batch_size=2))
    ETLRunner(config).run(_pipeline(), P())
    assert fetched == [2, 2, 1]
    assert len(pl.read_csv(files_root / "books.csv")) == 5


def test_a_read_sees_uncommitted_rows_of_the_test_transaction_on_the_same_connection(
    files_root,
):
    """etl §12.66: no extra connection, the test's own uncommitted rows are read."""
    Book.objects.create(title="uncommitted", pages=120)
    opened: list[object] = []

    def on_created(sender, connection, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(connection)

    connection_created.connect(on_created)
    try:
        ETLRunner().run(_pipeline(), P())
    finally:
        connection_created.disconnect(on_created)
    assert opened == []
    assert pl.read_csv(files_root / "books.csv").rows() == [("uncommitted", 120)]


def _run_body(body):  # type: ignore[no-untyped-def]
    """Run one step whose ``execute`` is ``body(books)``; return the SELECT sent."""

    class Shape(ETLStep[P]):
        books = FromTable(Book).where(col("pages") >= 100).columns("title", "pages")
        target = IntoFile("shaped.csv", format=Format.CSV)

        def execute(self, params: P, *, books: pl.LazyFrame) -> pl.LazyFrame:
            return body(books)

    pipe = _pipeline(Shape)
    with CaptureQueriesContext(connection) as queries:
        ETLRunner().run(pipe, P())
    return next(q["sql"] for q in queries.captured_queries if "legacy_books" in q["sql"])


def test_only_the_columns_execute_uses_are_selected(files_root):
    """etl §9.3: Polars' projection pushdown narrows the SELECT list."""
    Book.objects.create(title="b", pages=150)
    select = _run_body(lambda books: books.select("title"))
    assert "pages" not in select.split("FROM")[0] and "title" in select.split("FROM")[0]
    assert pl.read_csv(files_root / "shaped.csv").rows() == [("b",)]


def test_head_without_a_python_filter_becomes_limit(files_root, fetched):
    """etl §9.3: ``n_rows`` is a ``LIMIT`` when no predicate is left to Polars."""
    Book.objects.bulk_create(Book(title=f"t{i}", pages=100 + i) for i in range(6))
    select = _run_body(lambda books: books.sort("title").head(2).select(pl.len()))
    assert pl.read_csv(files_root / "shaped.csv").rows() == [(2,)]
    assert "LIMIT" not in select  # a sort needs every row first
    select = _run_body(lambda books: books.head(2))
    assert "LIMIT 2" in select and sum(fetched[-1:]) == 2


def test_two_sources_on_one_connection_join_and_open_no_connection(files_root):
    """etl §9.3: both scans share the step thread's connection under its lock."""
    Book.objects.bulk_create(Book(title=f"t{i}", pages=100 + i) for i in range(50))
    opened: list[object] = []

    def on_created(sender, connection, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(connection)

    class Join(ETLStep[P]):
        left = FromTable(Book).columns("title", "pages")
        right = FromTable(Book).where(col("pages") >= 140).columns("title")
        target = IntoFile("joined.csv", format=Format.CSV)

        def execute(self, params: P, *, left: pl.LazyFrame, right: pl.LazyFrame) -> pl.LazyFrame:
            return left.join(right, on="title").sort("pages")

    pipe = _pipeline(Join)
    connection_created.connect(on_created)
    try:
        ETLRunner(EtlConfig(django=DjangoIOConfig(read_batch_size=7))).run(pipe, P())
    finally:
        connection_created.disconnect(on_created)
    assert opened == []
    assert pl.read_csv(files_root / "joined.csv")["pages"].to_list() == list(range(140, 150))


def test_a_step_reading_and_appending_to_one_table_never_sees_its_own_writes():
    """etl §9.3: the source is fully read before the first write."""
    Book.objects.bulk_create(Book(title=f"t{i}", pages=i) for i in range(5))

    class Copy(ETLStep[P]):
        books = FromTable(Book).columns("title", "pages")
        target = IntoTable(Book).append()

        def execute(self, params: P, *, books: pl.LazyFrame) -> pl.LazyFrame:
            return books.with_columns(pl.col("title") + "-copy")

    pipe = _pipeline(Copy)
    result = ETLRunner(EtlConfig(django=DjangoIOConfig(read_batch_size=2))).run(pipe, P())
    assert result.rows_written == 5 and Book.objects.count() == 10
