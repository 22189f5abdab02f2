"""Spark: row counts without extra jobs, ``StepSQL`` views (spec §7.3; §12 items 63, 64)."""

from __future__ import annotations

import types
from pathlib import Path

import polars as pl
import pytest

from loom_django.etl import (
    EtlConfig,
    ETLParams,
    ETLPipeline,
    ETLProcess,
    Format,
    FromFile,
    IntoFile,
    IntoTemp,
    StepSQL,
)
from loom_django.etl.runner import ETLRunner

pytestmark = [pytest.mark.slow, pytest.mark.spark]


class P(ETLParams):
    n: int = 25


def _sql_step(name: str, sql: str, target: object, **sources: object) -> type:
    body = {"sql": sql, "target": target, **sources}
    return types.new_class(name, (StepSQL[P, object],), exec_body=lambda d: d.update(body))


def _pipe(*steps: object) -> type:
    proc = types.new_class(
        "Proc", (ETLProcess[P],), exec_body=lambda d: d.update(steps=list(steps))
    )
    return types.new_class(
        "Pipe", (ETLPipeline[P],), exec_body=lambda d: d.update(processes=[proc])
    )


@pytest.mark.parametrize(
    "target",
    [
        IntoFile("out.csv", format=Format.CSV),
        IntoFile("out.parquet", format=Format.PARQUET),
        IntoTemp("t"),
    ],
    ids=["csv", "parquet", "temp"],
)
def test_spark_rows_written_are_exact_and_cost_only_the_write_job(spark, tmp_path, target):
    """etl §12.63: jobs counted per step through its job group."""
    step = _sql_step("Make", "SELECT id, id * 2 AS twice FROM range({{ params.n }})", target)
    _assert_one_job(spark, tmp_path, step)


@pytest.mark.django_db
def test_a_spark_django_table_write_costs_one_job(spark, tmp_path):
    """etl §12.63: the driver-side collect is the write's only job."""
    from loom_django.etl import IntoTable
    from tests.testapp.models import Book

    sql = "SELECT concat('b', CAST(id AS STRING)) AS title, CAST(id AS INT) AS pages FROM range(25)"
    _assert_one_job(spark, tmp_path, _sql_step("Load", sql, IntoTable(Book).append()))
    assert Book.objects.count() == 25


def _assert_one_job(spark, tmp_path, step):  # type: ignore[no-untyped-def]
    sc = spark.sparkContext
    group = f"etl-63-{tmp_path.name}"
    sc.setJobGroup(group, "criterion 63")
    try:
        result = ETLRunner(EtlConfig(files_root=str(tmp_path)), spark=spark).run(_pipe(step), P())
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    assert result.steps[0].rows_written == 25
    assert len(sc.statusTracker().getJobIdsForGroup(group)) == 1


def test_two_stepsql_steps_in_a_parallel_group_share_an_alias(spark, tmp_path: Path):
    """etl §12.64: views are dropped after each step, results stay correct."""
    pl.DataFrame({"n": list(range(10))}).write_parquet(tmp_path / "nums.parquet")
    src = FromFile("nums.parquet", format=Format.PARQUET)
    evens = _sql_step(
        "Evens",
        "SELECT n FROM nums WHERE n % 2 = 0",
        IntoFile("evens.parquet", format=Format.PARQUET),
        nums=src,
    )
    odds = _sql_step(
        "Odds",
        "SELECT n FROM nums WHERE n % 2 = 1",
        IntoFile("odds.parquet", format=Format.PARQUET),
        nums=src,
    )
    ETLRunner(EtlConfig(files_root=str(tmp_path)), spark=spark).run(_pipe([evens, odds]), P())
    assert sorted(pl.read_parquet(tmp_path / "evens.parquet" / "*.parquet")["n"]) == [0, 2, 4, 6, 8]
    assert sorted(pl.read_parquet(tmp_path / "odds.parquet" / "*.parquet")["n"]) == [1, 3, 5, 7, 9]
    assert not [t for t in spark.catalog.listTables() if t.name == "nums"]


def test_cancelling_a_run_cancels_its_running_spark_jobs(spark):
    """etl §5.3: the command's cancel callback stops Spark work in progress."""
    import threading
    import time

    from loom_django.etl._cli import _cancel_spark_jobs
    from loom_django.etl._spark_backend import set_session
    from loom_django.etl.cancel import Cancellation

    set_session(spark)
    cancel = Cancellation()
    cancel.callbacks.append(_cancel_spark_jobs)
    outcome: list[BaseException | None] = []

    def long_job() -> None:
        try:
            spark.range(10**12).selectExpr("sum(id)").collect()
            outcome.append(None)
        except Exception as exc:
            outcome.append(exc)

    worker = threading.Thread(target=long_job)
    worker.start()
    deadline = time.monotonic() + 30
    while not spark.sparkContext.statusTracker().getActiveJobsIds():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    cancel.cancel("test")
    worker.join(timeout=30)
    assert outcome and outcome[0] is not None and "cancel" in str(outcome[0]).lower()
