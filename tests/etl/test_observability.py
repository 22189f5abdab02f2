"""Lifecycle events seen through ``StubRunObserver`` (spec §6.1, §8; §12 items 67, 70)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from loom_django.etl import ETLPipeline, ETLProcess, ETLStep, IntoTable
from loom_django.etl.runner import ETLRunner
from loom_django.etl.testing import StubRunObserver
from tests.etl.pipelines import DayParams, FailingPipeline
from tests.testapp.models import Book

pytestmark = pytest.mark.django_db
DAY = DayParams(run_date=date(2026, 3, 30))


class AppendMany(ETLStep[DayParams]):
    target = IntoTable(Book).append()

    def execute(self, params: DayParams) -> pl.LazyFrame:
        return pl.LazyFrame({"title": [f"b{i}" for i in range(137)], "pages": list(range(137))})


class Many(ETLProcess[DayParams]):
    steps = [AppendMany]


class ManyPipeline(ETLPipeline[DayParams]):
    processes = [Many]


def test_a_failing_step_gives_error_then_end_failed_for_every_scope():
    """etl §12.67: ``step_error`` precedes ``step_end(failed)``; pipeline status failed."""
    stub = StubRunObserver()
    with pytest.raises(RuntimeError):
        ETLRunner(observers=[stub]).run(FailingPipeline, DAY)
    assert stub.event_names == [
        "pipeline_start",
        "process_start",
        "step_start",
        "step_error",
        "step_end",
        "process_error",
        "process_end",
        "pipeline_error",
        "pipeline_end",
    ]
    assert stub.step_statuses == ["failed"] and stub.pipeline_statuses == ["failed"]
    assert stub.events[-1].error_type == "RuntimeError"


def test_step_end_rows_written_equals_the_rows_in_the_target():
    """etl §12.70: after an append to an empty table."""
    stub = StubRunObserver()
    ETLRunner(observers=[stub]).run(ManyPipeline, DAY)
    step_end = next(e for e in stub.events if e.scope == "step" and e.kind == "end")
    assert step_end.rows_written == Book.objects.count() == 137
    assert stub.events[-1].rows_written == 137 and stub.pipeline_statuses == ["success"]
