"""Porting check: the reference quickstart runs with only its import line and the routing
configuration changed (spec §12 item 87)."""

from __future__ import annotations

import types
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from loom_django.etl.config import load_config
from loom_django.etl.runner import ETLRunner
from tests.testapp.models import RawOrder, StagingOrder

pytestmark = pytest.mark.django_db

# The reference (loom-kernel) quickstart, verbatim but for the import line.
QUICKSTART = """
from datetime import date

import polars as pl

from loom.etl import ETLParams, ETLPipeline, ETLProcess, ETLStep, FromTable, IntoTable


class DailyParams(ETLParams):
    run_date: date


class StageOrders(ETLStep[DailyParams]):
    orders = FromTable("raw.orders").columns("id", "amount", "run_date")
    target = IntoTable("staging.orders").replace()

    def execute(self, params: DailyParams, *, orders: pl.LazyFrame) -> pl.LazyFrame:
        return orders.filter(pl.col("amount") > 0)


class OrdersProcess(ETLProcess[DailyParams]):
    steps = [StageOrders]


class OrdersPipeline(ETLPipeline[DailyParams]):
    processes = [OrdersProcess]
"""

DJANGO_ROUTES = """
etl:
  storage:
    tables:
      - name: raw.orders
        django: {model: testapp.RawOrder}
      - name: staging.orders
        django: {model: testapp.StagingOrder}
"""

DELTA_ROUTES = """
etl:
  storage:
    missing_table_policy: create
    tables:
      - name: raw.orders
        path: {uri: %(root)s/raw/orders}
      - name: staging.orders
        path: {uri: %(root)s/staging/orders}
"""


def _ported() -> types.ModuleType:
    """The quickstart with ``loom.etl`` replaced by ``loom_django.etl`` — the only edit."""
    source = QUICKSTART.replace("from loom.etl import", "from loom_django.etl import", 1)
    assert source.count("\n") == QUICKSTART.count("\n")
    module = types.ModuleType("ported_quickstart")
    exec(compile(source, "<quickstart>", "exec", dont_inherit=True), module.__dict__)
    return module


def _runner(tmp_path: Path, yaml: str) -> ETLRunner:
    config = tmp_path / "etl.yaml"
    config.write_text(yaml)
    return ETLRunner(load_config(files=[str(config)]))


def test_quickstart_runs_against_django_models_with_only_import_and_routes_changed(tmp_path):
    """etl §12.87: ``raw.orders`` and ``staging.orders`` routed to existing Django models."""
    day = date(2026, 3, 30)
    RawOrder.objects.bulk_create([RawOrder(amount=a, run_date=day) for a in (12.5, 0.0, -3.0, 7.0)])
    StagingOrder.objects.create(amount=99.0, run_date=date(2020, 1, 1))
    quickstart = _ported()
    result = _runner(tmp_path, DJANGO_ROUTES).run(
        quickstart.OrdersPipeline, quickstart.DailyParams(run_date=day)
    )
    assert result.status == "success" and result.rows_written == 2
    staged = StagingOrder.objects.order_by("amount").values_list("amount", "run_date")
    assert list(staged) == [(7.0, day), (12.5, day)]


def test_quickstart_runs_against_delta_paths_with_the_create_policy(tmp_path):
    """etl §12.87: the same tables routed to Delta paths with ``missing_table_policy: create``
    (``staging.orders`` does not exist before the run)."""
    pytest.importorskip("deltalake")
    day = date(2026, 3, 30)
    raw = pl.DataFrame({"id": [1, 2, 3], "amount": [12.5, 0.0, 7.0], "run_date": [day, day, day]})
    raw.write_delta(str(tmp_path / "raw" / "orders"))
    quickstart = _ported()
    runner = _runner(tmp_path, DELTA_ROUTES % {"root": tmp_path})
    result = runner.run(quickstart.OrdersPipeline, quickstart.DailyParams(run_date=day))
    assert result.status == "success"
    staged = pl.read_delta(str(tmp_path / "staging" / "orders")).sort("id")
    assert staged.rows() == [(1, 12.5, day), (3, 7.0, day)]


def test_quickstart_is_unchanged_apart_from_the_import_line():
    """etl §12.87: exactly one line differs between the reference and the ported source."""
    source: Any = QUICKSTART.replace("from loom.etl import", "from loom_django.etl import", 1)
    changed = [
        (a, b) for a, b in zip(QUICKSTART.splitlines(), source.splitlines(), strict=True) if a != b
    ]
    assert len(changed) == 1 and changed[0][0].startswith("from loom.etl import")
