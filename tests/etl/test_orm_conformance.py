"""A row written by the ETL reads back through the ORM like one saved with
``Model.objects.create``, for every field type of the §9.2 mapping (spec §12 item 52)."""

from __future__ import annotations

import types
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from django.db import connection, models
from django.test.utils import isolate_apps

from loom_django.etl import ETLParams, ETLPipeline, ETLProcess, ETLStep, IntoTable
from loom_django.etl.runner import ETLRunner
from tests.testapp.models import FieldZoo, Publisher

pytestmark = pytest.mark.django_db


class P(ETLParams):
    pass


def _write(target: Any, frame: pl.DataFrame) -> None:
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


def _values(at: datetime, publisher_id: int) -> dict[str, Any]:
    return {
        "small": -12,
        "integer": 123_456,
        "big": 9_007_199_254_740_993,
        "psmall": 7,
        "pint": 70_000,
        "pbig": 5_000_000_000,
        "ratio": 0.1,
        "price": Decimal("1234.5678"),
        "name": "Zoë",
        "body": "line 1\nline 2 'quoted'",
        "slug": "a-slug",
        "email": "a@example.com",
        "url": "https://example.com/x?y=1",
        "ip": "192.168.0.1",
        "flag": True,
        "day": date(2026, 3, 30),
        "at": at,
        "clock": time(13, 45, 30, 250_000),
        "span": timedelta(days=1, seconds=5, microseconds=7),
        "code": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "blob": b"\x00\x01bytes",
        "data": {"a": [1, 2], "b": {"c": None}},
        "publisher_id": publisher_id,
    }


def _frame(values: dict[str, Any]) -> pl.DataFrame:
    import json

    row = {**values, "code": str(values["code"]), "data": json.dumps(values["data"])}
    schema = {"price": pl.Decimal(20, 4), "span": pl.Duration("us")}
    return pl.DataFrame([row], schema_overrides=schema)


def _compare(etl: models.Model, orm: models.Model, fields: list[str]) -> list[str]:
    return [
        f"{name}: etl={getattr(etl, name)!r} orm={getattr(orm, name)!r}"
        for name in fields
        if getattr(etl, name) != getattr(orm, name)
    ]


def _fields(values: dict[str, Any]) -> list[str]:
    return list(values)


def test_every_mapped_field_type_reads_back_like_an_orm_saved_row():
    """etl §12.52 (USE_TZ on): every field of the §9.2 table equals the ORM-saved row's."""
    publisher = Publisher.objects.create(name="p")
    values = _values(datetime(2026, 3, 30, 12, 30, 15, 123456, tzinfo=UTC), publisher.pk)
    _write(IntoTable(FieldZoo).append(), _frame(values))
    orm = FieldZoo.objects.create(**values)
    etl = FieldZoo.objects.exclude(pk=orm.pk).get()
    orm.refresh_from_db()
    assert _compare(etl, orm, _fields(values)) == []
    assert bytes(etl.blob) == values["blob"] and etl.data == values["data"]


def test_naive_datetimes_read_back_like_the_orm_with_use_tz_off(settings):
    """etl §12.52 (USE_TZ off): a naive datetime column is stored and read as the ORM does."""
    settings.USE_TZ = False
    values = _values(
        datetime(2026, 3, 30, 12, 30, 15, 123456), Publisher.objects.create(name="q").pk
    )
    _write(IntoTable(FieldZoo).append(), _frame(values))
    orm = FieldZoo.objects.create(**values)
    etl = FieldZoo.objects.exclude(pk=orm.pk).get()
    orm.refresh_from_db()
    assert etl.at == orm.at == values["at"]
    assert _compare(etl, orm, _fields(values)) == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="exact decimals need PostgreSQL")
def test_decimals_beyond_double_precision_are_exact_on_postgresql():
    """etl §12.52: decimals on PostgreSQL keep every digit (SQLite stores REAL)."""
    values = _values(datetime(2026, 3, 30, tzinfo=UTC), Publisher.objects.create(name="r").pk)
    values["price"] = Decimal("1234567890123456.7891")
    _write(IntoTable(FieldZoo).append(), _frame(values))
    orm = FieldZoo.objects.create(**values)
    etl = FieldZoo.objects.exclude(pk=orm.pk).get()
    assert etl.price == orm.price == values["price"]


def _tagged_model() -> type[models.Model]:
    """A model with two ArrayFields, its table created in the test's transaction (call it
    inside ``isolate_apps`` so the app registry never sees it)."""
    from django.contrib.postgres.fields import ArrayField

    class Tagged(models.Model):
        tags = ArrayField(models.CharField(max_length=20))
        scores = ArrayField(models.IntegerField(), null=True)

        class Meta:
            app_label = "testapp"
            db_table = "etl_tagged_isolated"

    with connection.schema_editor() as editor:
        editor.create_model(Tagged)
    return Tagged


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ArrayField is PostgreSQL's")
@isolate_apps("tests.testapp")
def test_array_field_written_by_the_etl_reads_back_like_the_orm_on_postgresql():
    """etl §12.52 with §9.2: a Polars List column written into PostgreSQL ``ArrayField(base)``."""
    tagged = _tagged_model()
    _write(IntoTable(tagged).append(), pl.DataFrame({"tags": [["a", "b"]], "scores": [[1, 2, 3]]}))
    orm = tagged.objects.create(tags=["a", "b"], scores=[1, 2, 3])
    etl = tagged.objects.exclude(pk=orm.pk).get()
    assert (etl.tags, etl.scores) == (orm.tags, orm.scores) == (["a", "b"], [1, 2, 3])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ArrayField is PostgreSQL's")
@isolate_apps("tests.testapp")
def test_array_field_reads_as_a_typed_list_column_on_postgresql():
    """etl §12.52 with §9.2: ``ArrayField(base)`` reads as ``List(<base type>)``."""
    from loom_django.etl._django_scan import scan_table
    from loom_django.etl._routing import model_route

    tagged = _tagged_model()
    tagged.objects.create(tags=["x"], scores=[4, 5])
    route = model_route(tagged, "default", "testapp.tagged")
    frame = scan_table(route, columns=None, predicate=None, params=None, batch_size=10).collect()
    assert frame.schema["tags"] == pl.List(pl.String)
    assert frame.schema["scores"] == pl.List(pl.Int32)
    assert frame.select("tags", "scores").rows() == [(["x"], [4, 5])]
