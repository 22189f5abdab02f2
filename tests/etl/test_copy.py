"""PostgreSQL ``COPY`` for Django table inserts: used by append/replace, same rows as
``executemany`` (spec §9.4, §12 item 52 on the COPY path)."""

from __future__ import annotations

import types
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from django.db import connection

from loom_django.etl import ETLParams, ETLPipeline, ETLProcess, ETLStep, IntoTable, _django_io
from loom_django.etl.config import DjangoIOConfig, EtlConfig
from loom_django.etl.runner import ETLRunner
from loom_django.orm.mapping import django_model_for
from tests.testapp.models import Kind

pytestmark = pytest.mark.django_db


class P(ETLParams):
    pass


def _run(target: Any, frame: pl.DataFrame, copy: str = "auto") -> None:
    def execute(self: Any, params: P) -> pl.LazyFrame:
        return frame.lazy()

    step = types.new_class(
        "W", (ETLStep[P],), exec_body=lambda d: d.update(target=target, execute=execute)
    )
    proc = types.new_class("Proc", (ETLProcess[P],), exec_body=lambda d: d.update(steps=[step]))
    pipe = types.new_class(
        "Pipe", (ETLPipeline[P],), exec_body=lambda d: d.update(processes=[proc])
    )
    ETLRunner(EtlConfig(django=DjangoIOConfig(copy=copy))).run(pipe, P())


def _frame(titles: list[str]) -> pl.DataFrame:
    n = len(titles)
    return pl.DataFrame(
        {
            "title": titles,
            "born": [date(2026, 3, 1)] * n,
            "at": [datetime(2026, 3, 30, 12, 30, 15, 123456, tzinfo=UTC)] * n,
            "opens": [time(8, 30, 1, 500)] * n,
            "tags": ["[1, 2]"] * n,
            "codes": ['["a", "b,c"]'] * n,
            "data": ['{"k": "v \\"q\\""}'] * n,
            "price": [Decimal("12.34")] * n,
            "ratio": [0.1] * n,
            "flag": [True] * n,
            "big": [2**40] * n,
            "token": [str(uuid.UUID(int=i)) for i in range(n)],
            "note": [None, "", 'a,"b"\nc'][:n],
            "strict_note": ["x"] * n,
        }
    )


def _values() -> list[dict[str, Any]]:
    model = django_model_for(Kind)
    return list(model.objects.order_by("token").values(*_frame(["a"]).columns))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_append_on_postgresql_goes_through_copy(monkeypatch):
    calls = []
    real = _django_io._copy
    monkeypatch.setattr(_django_io, "_copy", lambda *a: calls.append(a) or real(*a))
    _run(IntoTable(Kind).append(), _frame(["a", "b", "c"]))
    assert len(calls) == 1
    assert django_model_for(Kind).objects.count() == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_copy_writes_the_same_values_as_executemany():
    """etl §12.52"""
    frame = _frame(["a", "b", "c"])
    _run(IntoTable(Kind).replace(), frame, copy="off")
    by_insert = _values()
    _run(IntoTable(Kind).replace(), frame)
    by_copy = _values()
    for a, b in zip(by_copy, by_insert, strict=True):
        assert {k: v for k, v in a.items() if b[k] != v} == {}, b
    assert [row["note"] for row in by_insert] == [None, "", 'a,"b"\nc']
    assert by_insert[0]["opens"] == time(8, 30, 1, 500)
    assert by_insert[0]["data"] == {"k": 'v "q"'}


def test_upsert_never_uses_copy(monkeypatch):
    monkeypatch.setattr(_django_io, "_copy", lambda *a: pytest.fail("COPY used for upsert"))
    _run(IntoTable(Kind).upsert(keys=("id",)), _frame(["a"]).with_columns(id=pl.lit(1)))
    assert django_model_for(Kind).objects.get(id=1).title == "a"


def test_json_text_columns_are_stored_as_json_not_as_strings():
    """etl §12.52 (JSONField maps to JSON text both ways)"""
    _run(IntoTable(Kind).append(), _frame(["a"]), copy="off")
    row = django_model_for(Kind).objects.get()
    assert (row.tags, row.codes, row.data) == ([1, 2], ["a", "b,c"], {"k": 'v "q"'})
