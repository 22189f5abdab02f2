"""Django table writes: partitions, deletes through the collector, ORM conformance
(spec §12 items 49, 52, 53)."""

from __future__ import annotations

import types
import uuid
from datetime import UTC, date, datetime

import polars as pl
import pytest
from django.db.models import ProtectedError

from loom_django.etl import ETLParams, ETLPipeline, ETLProcess, ETLStep, IntoTable
from loom_django.etl.runner import ETLRunner
from tests.testapp.models import Book, Publisher

pytestmark = pytest.mark.django_db


class P(ETLParams):
    pass


def _run(target, frame: pl.DataFrame) -> None:
    def execute(self, params):
        return frame.lazy()

    step = types.new_class(
        "W", (ETLStep[P],), exec_body=lambda d: d.update(target=target, execute=execute)
    )
    proc = types.new_class("Proc", (ETLProcess[P],), exec_body=lambda d: d.update(steps=[step]))
    pipe = types.new_class(
        "Pipe", (ETLPipeline[P],), exec_body=lambda d: d.update(processes=[proc])
    )
    ETLRunner().run(pipe, P())


def test_replace_partitions_replaces_only_the_partitions_in_the_frame(caplog):
    for title, pages in (("a", 1), ("b", 1), ("c", 2)):
        Book.objects.create(title=title, pages=pages)
    _run(IntoTable(Book).replace_partitions("pages"), pl.DataFrame({"title": ["z"], "pages": [1]}))
    assert sorted(Book.objects.values_list("title", "pages")) == [("c", 2), ("z", 1)]
    _run(
        IntoTable(Book).replace_partitions("pages"),
        pl.DataFrame(schema={"title": pl.String, "pages": pl.Int64}),
    )
    assert Book.objects.count() == 2
    assert any("empty frame" in r.message for r in caplog.records)


def test_replace_on_a_protected_model_fails_and_changes_neither_table():
    pub = Publisher.objects.create(name="p")
    Book.objects.create(title="t", publisher=pub)
    with pytest.raises(ProtectedError):
        _run(IntoTable(Publisher).replace(), pl.DataFrame({"name": ["q"]}))
    assert list(Publisher.objects.values_list("name", flat=True)) == ["p"]
    assert Book.objects.count() == 1


def test_a_written_row_reads_back_like_one_saved_by_the_orm():
    code = uuid.uuid4()
    added = datetime(2026, 3, 30, 12, 30, 15, 123456, tzinfo=UTC)
    pub = Publisher.objects.create(name="p")
    frame = pl.DataFrame(
        {
            "title": ["etl"],
            "pages": [321],
            "published": [date(2026, 3, 1)],
            "publisher_id": [pub.id],
            "code": [str(code)],
            "added": [added],
            "changed": [added],
        }
    )
    _run(IntoTable(Book).append(), frame)
    orm = Book.objects.create(
        title="orm", pages=321, published=date(2026, 3, 1), publisher=pub, code=uuid.uuid4()
    )
    Book.objects.filter(pk=orm.pk).update(added=added, changed=added)
    etl, orm = Book.objects.get(title="etl"), Book.objects.get(title="orm")
    for field in ("pages", "published", "publisher_id", "added", "changed"):
        assert getattr(etl, field) == getattr(orm, field), field
    assert etl.code == code


def test_a_django_table_reads_back_typed_from_the_model():
    from loom_django.etl._django_scan import scan_table
    from loom_django.etl._routing import model_route

    code = uuid.uuid4()
    Book.objects.create(title="t", pages=7, published=date(2026, 1, 2), code=code)
    frame = scan_table(
        model_route(Book, "default", "testapp.book"),
        columns=None,
        predicate=None,
        params=None,
        batch_size=10,
    ).collect()
    assert frame.schema["pages"] == pl.Int32 and frame.schema["published"] == pl.Date
    assert frame.schema["added"] == pl.Datetime("us", "UTC")
    assert frame["code"][0] == str(code)
