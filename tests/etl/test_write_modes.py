"""Write modes on Django tables, one behaviour each (spec §2.8.1, §9.4, §12 items 48, 50, 51,
53, 55)."""

from __future__ import annotations

import types
import uuid
from datetime import date
from typing import Any

import polars as pl
import pytest

from loom_django.etl import (
    ETLParams,
    ETLPipeline,
    ETLProcess,
    ETLStep,
    Format,
    IntoFile,
    IntoTable,
    PredicateViolationError,
    col,
    params,
)
from loom_django.etl.runner import ETLRunner
from loom_django.orm.mapping import django_model_for
from tests.testapp.models import Address, Book, User

pytestmark = pytest.mark.django_db


class P(ETLParams):
    start: date = date(2026, 1, 1)
    end: date = date(2026, 1, 31)
    run_date: date = date(2026, 3, 30)


def _run(target: Any, frame: pl.DataFrame) -> None:
    def execute(self: Any, params: P) -> pl.LazyFrame:
        return frame.lazy()

    step = types.new_class(
        "W", (ETLStep[P],), exec_body=lambda d: d.update(target=target, execute=execute)
    )
    proc = types.new_class("Proc", (ETLProcess[P],), exec_body=lambda d: d.update(steps=[step]))
    pipe = types.new_class(
        "Pipe", (ETLPipeline[P],), exec_body=lambda d: d.update(processes=[proc])
    )
    ETLRunner().run(pipe, P())


def test_omitted_nullable_default_and_auto_pk_columns_come_from_the_database():
    """etl §12.48"""
    _run(IntoTable(Book).append(), pl.DataFrame({"title": ["a", "b"]}))
    rows = list(Book.objects.order_by("title").values_list("id", "pages", "published"))
    assert [r[1:] for r in rows] == [(100, None), (100, None)]
    assert rows[0][0] is not None and rows[0][0] != rows[1][0]


def test_replace_where_between_params_keeps_rows_outside_the_range():
    """etl §12.50"""
    for title, day in (("outside", 1), ("inside", 15)):
        Book.objects.create(title=title, published=date(2026, 1 if day == 15 else 2, day))
    target = IntoTable(Book).replace_where(col("published").between(params.start, params.end))
    _run(target, pl.DataFrame({"title": ["new"], "published": [date(2026, 1, 20)]}))
    assert sorted(Book.objects.values_list("title", flat=True)) == ["new", "outside"]


def test_replace_where_row_outside_the_range_fails_before_deleting():
    """etl §12.50"""
    Book.objects.create(title="inside", published=date(2026, 1, 15))
    target = IntoTable(Book).replace_where(col("published").between(params.start, params.end))
    with pytest.raises(PredicateViolationError):
        _run(target, pl.DataFrame({"title": ["late"], "published": [date(2026, 2, 2)]}))
    assert list(Book.objects.values_list("title", flat=True)) == ["inside"]


def _two_books() -> tuple[str, str]:
    a, b = uuid.uuid4(), uuid.uuid4()
    Book.objects.create(title="a", pages=1, code=a)
    Book.objects.create(title="b", pages=2, code=b)
    return str(a), str(b)


def test_upsert_exclude_leaves_excluded_columns_and_inserts_new_keys():
    """etl §12.51"""
    a, _ = _two_books()
    new = str(uuid.uuid4())
    frame = pl.DataFrame({"code": [a, new], "title": ["A", "N"], "pages": [10, 30]})
    _run(IntoTable(Book).upsert(keys=("code",), exclude=("pages",)), frame)
    assert sorted(Book.objects.values_list("title", "pages")) == [("A", 1), ("N", 30), ("b", 2)]


def test_upsert_include_changes_only_the_included_columns():
    """etl §12.51"""
    a, b = _two_books()
    frame = pl.DataFrame({"code": [a, b], "title": ["A", "B"], "pages": [10, 20]})
    _run(IntoTable(Book).upsert(keys=("code",), include=("pages",)), frame)
    assert sorted(Book.objects.values_list("title", "pages")) == [("a", 10), ("b", 20)]


def test_append_with_an_empty_frame_is_a_no_op():
    """etl §12.53"""
    Book.objects.create(title="kept")
    _run(IntoTable(Book).append(), pl.DataFrame(schema={"title": pl.String}))
    assert list(Book.objects.values_list("title", flat=True)) == ["kept"]


def test_replace_on_a_cascade_referenced_model_removes_referencing_rows_like_the_orm():
    """etl §12.53"""
    users, addresses = django_model_for(User), django_model_for(Address)
    old = users.objects.create(full_name="Old", email="old@example.com")
    addresses.objects.create(user_id=old.id, label="home", city="Oslo")
    frame = pl.DataFrame({"full_name": ["New"], "email": ["new@example.com"]})
    _run(IntoTable(users).replace(), frame)
    assert list(users.objects.values_list("email", flat=True)) == ["new@example.com"]
    assert addresses.objects.count() == 0


def test_a_file_write_failing_midway_leaves_the_previous_file_intact(files_root, monkeypatch):
    """etl §12.55"""
    out = files_root / "exports" / "r_2026-03-30.csv"
    out.parent.mkdir()
    out.write_text("previous\n")

    def broken(self: pl.DataFrame, path: Any, **kwargs: Any) -> None:
        with open(path, "w") as handle:
            handle.write("partial")
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        _run(IntoFile("exports/r_{run_date}.csv", format=Format.CSV), pl.DataFrame({"a": [1]}))
    assert out.read_text() == "previous\n"
    assert [p.name for p in out.parent.iterdir()] == [out.name]
