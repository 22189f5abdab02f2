"""Execution on Polars over Django tables and files (spec §12 execution/writes items)."""

from __future__ import annotations

import types
from datetime import date

import polars as pl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loom_django.etl import (
    DuplicateKeyError,
    ETLParams,
    ETLPipeline,
    ETLProcess,
    ETLStep,
    Format,
    FromTable,
    IntoFile,
    IntoTable,
    InvalidStageError,
    PredicateViolationError,
    SchemaError,
    col,
    params,
)
from loom_django.etl.runner import ETLRunner
from tests.testapp.models import Book, Publisher

pytestmark = pytest.mark.django_db


class P(ETLParams):
    run_date: date = date(2026, 3, 30)
    min_pages: int = 0


def _pipe(*steps):
    proc = types.new_class(
        "Proc", (ETLProcess[P],), exec_body=lambda d: d.update(steps=list(steps))
    )
    return types.new_class(
        "Pipe", (ETLPipeline[P],), exec_body=lambda d: d.update(processes=[proc])
    )


def _books(*titles_pages):
    for title, pages in titles_pages:
        Book.objects.create(title=title, pages=pages)


def test_append_writes_rows_the_orm_reads_back_with_defaults_applied():
    class Load(ETLStep[P]):
        target = IntoTable(Book).append()

        def execute(self, params):
            return pl.LazyFrame({"title": ["a", "b"], "pages": [10, 20]})

    result = ETLRunner().run(_pipe(Load), P())
    assert result.rows_written == 2
    books = list(Book.objects.order_by("title"))
    assert [(b.title, b.pages) for b in books] == [("a", 10), ("b", 20)]
    assert all(b.code and b.added and b.changed for b in books)


def test_where_predicates_are_anded_and_pushed_into_the_sql(tmp_path, settings):
    """etl §12.9: two ``.where()`` calls are ANDed and both reach the SQL."""
    settings.BASE_DIR = tmp_path
    _books(("a", 5), ("b", 50), ("c", 500))

    class Export(ETLStep[P]):
        books = (
            FromTable(Book)
            .where(col("pages") >= params.min_pages)
            .where(col("pages") < 100)
            .columns("title", "pages")
        )
        target = IntoFile("out/books_{run_date}.csv", format=Format.CSV)

        def execute(self, params, *, books):
            return books.sort("title")

    with CaptureQueriesContext(connection) as queries:
        ETLRunner().run(_pipe(Export), P(min_pages=10))
    select = [
        q["sql"]
        for q in queries.captured_queries
        if "legacy_books" in q["sql"] and "INSERT" not in q["sql"]
    ]
    assert select and "WHERE" in select[0] and "pages" in select[0]
    assert pl.read_csv(tmp_path / "out" / "books_2026-03-30.csv").rows() == [("b", 50)]


def test_file_target_path_template_uses_params(tmp_path, settings):
    settings.BASE_DIR = tmp_path
    _books(("a", 5))

    class Export(ETLStep[P]):
        books = FromTable(Book).columns("title", "pages")
        target = IntoFile("exports/r_{run_date}.csv", format=Format.CSV)

        def execute(self, params, *, books):
            return books

    ETLRunner().run(_pipe(Export), P())
    out = tmp_path / "exports" / "r_2026-03-30.csv"
    assert pl.read_csv(out).rows() == [("a", 5)]


def test_extra_frame_column_is_a_schema_error_and_nothing_is_written():
    class Load(ETLStep[P]):
        target = IntoTable(Book).append()

        def execute(self, params):
            return pl.LazyFrame({"title": ["a"], "pages": [1], "nope": [1]})

    with pytest.raises(SchemaError, match="nope"):
        ETLRunner().run(_pipe(Load), P())
    assert Book.objects.count() == 0


def test_replace_with_an_empty_frame_empties_the_table():
    _books(("a", 5))

    class Load(ETLStep[P]):
        target = IntoTable(Book).replace()

        def execute(self, params):
            return pl.LazyFrame(schema={"title": pl.String, "pages": pl.Int64})

    ETLRunner().run(_pipe(Load), P())
    assert Book.objects.count() == 0


def test_replace_where_keeps_other_rows_and_rejects_rows_outside_the_predicate():
    _books(("small", 5), ("big", 500))

    class Ok(ETLStep[P]):
        target = IntoTable(Book).replace_where(col("pages") < 100)

        def execute(self, params):
            return pl.LazyFrame({"title": ["new"], "pages": [7]})

    class Bad(ETLStep[P]):
        target = IntoTable(Book).replace_where(col("pages") < 100)

        def execute(self, params):
            return pl.LazyFrame({"title": ["huge"], "pages": [700]})

    ETLRunner().run(_pipe(Ok), P())
    assert sorted(Book.objects.values_list("title", flat=True)) == ["big", "new"]
    with pytest.raises(PredicateViolationError):
        ETLRunner().run(_pipe(Bad), P())
    assert sorted(Book.objects.values_list("title", flat=True)) == ["big", "new"]


def test_upsert_updates_matched_rows_inserts_others_and_refuses_duplicate_keys():
    Publisher.objects.create(name="old")

    class Up(ETLStep[P]):
        target = IntoTable(Publisher).upsert(keys=("name",))

        def execute(self, params):
            return pl.LazyFrame({"name": ["old", "new"]})

    class Dup(ETLStep[P]):
        target = IntoTable(Publisher).upsert(keys=("name",))

        def execute(self, params):
            return pl.LazyFrame({"name": ["x", "x"]})

    ETLRunner().run(_pipe(Up), P())
    assert sorted(Publisher.objects.values_list("name", flat=True)) == ["new", "old"]
    with pytest.raises(DuplicateKeyError):
        ETLRunner().run(_pipe(Dup), P())


def test_steps_run_in_order_and_a_failure_stops_later_steps(tmp_path, settings):
    settings.BASE_DIR = tmp_path
    seen = []

    class A(ETLStep[P]):
        target = IntoFile("a.csv", format=Format.CSV)

        def execute(self, params):
            seen.append("A")
            raise RuntimeError("boom")

    class B(ETLStep[P]):
        target = IntoFile("b.csv", format=Format.CSV)

        def execute(self, params):
            seen.append("B")
            return pl.LazyFrame({"x": [1]})

    with pytest.raises(RuntimeError) as info:
        ETLRunner().run(_pipe(A, B), P())
    assert seen == ["A"]
    assert any("ETL step A failed" in n for n in info.value.__notes__)


def test_include_unknown_name_raises_invalid_stage_error():
    class A(ETLStep[P]):
        target = IntoFile("a.csv", format=Format.CSV)

        def execute(self, params):
            return pl.LazyFrame({"x": [1]})

    with pytest.raises(InvalidStageError, match="Nope"):
        ETLRunner().run(_pipe(A), P(), include=["Nope"])


def test_wrong_params_type_raises_type_error_before_any_event():
    class Other(ETLParams):
        x: int = 0

    class A(ETLStep[P]):
        target = IntoFile("a.csv", format=Format.CSV)

        def execute(self, params):
            return pl.LazyFrame({"x": [1]})

    events = []
    runner = ETLRunner(observers=[types.SimpleNamespace(on_event=events.append)])
    with pytest.raises(TypeError):
        runner.run(_pipe(A), Other())
    assert events == []


def test_step_returning_none_fails_naming_the_step():
    class A(ETLStep[P]):
        target = IntoFile("a.csv", format=Format.CSV)

        def execute(self, params):
            return None

    with pytest.raises(TypeError, match="A returned None"):
        ETLRunner().run(_pipe(A), P())


def test_from_settings_reads_the_etl_section_and_picks_its_engine(settings):
    settings.LOOM = {"CONFIG": {"etl": {"engine": "polars", "django": {"write_batch_size": 7}}}}
    runner = ETLRunner.from_settings()
    assert runner.backend == "polars" and runner.config.django.write_batch_size == 7
    with pytest.raises(ValueError, match="flink"):
        ETLRunner.from_settings("flink")
