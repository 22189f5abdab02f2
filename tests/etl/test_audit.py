"""Audit columns on table targets, Polars and Spark (spec §5.5, §12 items 37, 41)."""

from __future__ import annotations

import types
from typing import Any

import msgspec
import polars as pl
import pytest

from loom_django.etl import ETLParams, ETLPipeline, ETLProcess, IntoTable, StepSQL
from loom_django.etl._audit import add_audit
from loom_django.etl._routing import model_route
from loom_django.etl.config import AuditColumn, AuditConfig, EtlConfig, StorageConfig
from loom_django.etl.runner import ETLRunner
from tests.testapp.models import AuditedSale, Publisher

AUDIT = StorageConfig(
    audit=AuditConfig(enabled=True, custom=(AuditColumn(name="batch", from_param="batch"),))
)


class P(ETLParams):
    batch: str = "b-7"


class Sales(StepSQL[P, object]):
    target = IntoTable(AuditedSale).append()
    sql = staticmethod(lambda params: "SELECT 10 AS amount")


class Names(StepSQL[P, object]):
    target = IntoTable(Publisher).append()
    sql = staticmethod(lambda params: "SELECT 'acme' AS name")


def _pipe(step: type[Any]) -> type[Any]:
    proc = types.new_class("Proc", (ETLProcess[P],), exec_body=lambda d: d.update(steps=[step]))
    return types.new_class(
        "Pipe", (ETLPipeline[P],), exec_body=lambda d: d.update(processes=[proc])
    )


def _audit_row() -> tuple[Any, ...]:
    return AuditedSale.objects.values_list(
        "amount", "_loom_run_id", "_loom_step", "_loom_attempt", "batch"
    ).get()


@pytest.mark.django_db
def test_polars_run_writes_the_audit_columns():
    """etl §12.41, §12.37"""
    ETLRunner(EtlConfig(storage=AUDIT)).run(_pipe(Sales), P(), run_id="run-41")
    assert _audit_row() == (10, "run-41", "Sales", 1, "b-7")
    assert AuditedSale.objects.get()._loom_process_run_id


@pytest.mark.django_db
def test_without_audit_no_audit_column_is_written():
    """etl §12.41"""
    ETLRunner(EtlConfig()).run(_pipe(Sales), P(), run_id="run-0")
    assert _audit_row() == (10, None, None, None, None)


def test_the_attempt_column_is_int32():
    """etl §12.41"""
    route = model_route(AuditedSale, "default", "testapp.auditedsale")
    frame = add_audit(pl.DataFrame({"amount": [1]}), route, {"_loom_attempt": 2, "batch": "x"})
    assert frame.schema["_loom_attempt"] == pl.Int32 and frame.schema["batch"] == pl.String


@pytest.mark.django_db
def test_a_model_without_audit_fields_is_written_without_them_and_warned_about(caplog):
    ETLRunner(EtlConfig(storage=AUDIT)).run(_pipe(Names), P())
    assert list(Publisher.objects.values_list("name", flat=True)) == ["acme"]
    assert any("EtlAuditFields" in r.getMessage() for r in caplog.records)


def test_a_custom_column_needs_exactly_one_source():
    with pytest.raises(msgspec.ValidationError, match="exactly one of value, from_param"):
        msgspec.convert({"storage": {"audit": {"custom": [{"name": "x"}]}}}, EtlConfig)


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.django_db
def test_spark_run_writes_the_audit_columns(spark):
    """etl §12.41 (Spark half)"""
    runner = ETLRunner(EtlConfig(storage=AUDIT), backend="spark", spark=spark)
    runner.run(_pipe(Sales), P(), run_id="run-spark")
    assert _audit_row() == (10, "run-spark", "Sales", 1, "b-7")
