"""``IntoUseCase``: rows through the compiled engine (spec §9.8, §12 items 79-82)."""

from __future__ import annotations

import json
import logging
import types

import polars as pl
import pytest

from loom_django.etl import (
    ETLParams,
    ETLPipeline,
    ETLProcess,
    ETLStep,
    Format,
    IntoFile,
    IntoUseCase,
    RejectThresholdExceeded,
)
from loom_django.etl.runner import ETLRunner
from loom_django.orm.mapping import django_model_for
from loom_django.runtime import get_runtime
from tests.etl.use_cases import CreateProductUseCase
from tests.testapp.models import Product

pytestmark = pytest.mark.django_db(transaction=True)


class P(ETLParams):
    pass


ROWS = {
    "sku": ["a-1", "b-2", "c-3"],
    "name": ["A", "B", "C"],
    "price_cents": [100, 0, 300],
}


def _pipe(target: IntoUseCase, rows: dict) -> type:
    def execute(self, params):
        return pl.LazyFrame(rows)

    step = types.new_class(
        "Feed", (ETLStep[P],), exec_body=lambda d: d.update(target=target, execute=execute)
    )
    proc = types.new_class("Proc", (ETLProcess[P],), exec_body=lambda d: d.update(steps=[step]))
    return types.new_class(
        "Pipe", (ETLPipeline[P],), exec_body=lambda d: d.update(processes=[proc])
    )


def _runner() -> ETLRunner:
    return ETLRunner(runtime=get_runtime)


def test_validate_mode_returns_valid_rows_and_rejects_and_writes_nothing(runtime, files_root):
    target = IntoUseCase(
        CreateProductUseCase,
        mode="validate",
        on_error="reject",
        rejects=IntoFile("rejects.csv", format=Format.CSV),
    )
    result = _runner().run(_pipe(target, ROWS), P())
    assert result.rejected == 1 and result.rows_written == 0
    rejects = pl.read_csv(files_root / "rejects.csv")
    assert rejects["sku"].to_list() == ["b-2"]
    violations = json.loads(rejects["_loom_violations"][0])
    assert violations == [{"field": "price_cents", "message": "price must be positive"}]
    assert django_model_for(Product).objects.count() == 0


def test_execute_mode_persists_valid_rows_and_writes_the_rejects_file(runtime, files_root):
    target = IntoUseCase(
        CreateProductUseCase,
        on_error="reject",
        rejects=IntoFile("rejects/products.csv", format=Format.CSV),
    )
    result = _runner().run(_pipe(target, ROWS), P())
    assert result.rows_written == 2 and result.rejected == 1
    assert sorted(django_model_for(Product).objects.values_list("sku", flat=True)) == ["A-1", "C-3"]
    assert pl.read_csv(files_root / "rejects/products.csv")["_loom_row"].to_list() == [1]


def test_max_rejects_exceeded_fails_the_step_and_rolls_back_its_rows(runtime, files_root):
    target = IntoUseCase(
        CreateProductUseCase,
        on_error="reject",
        max_rejects=0,
        rejects=IntoFile("rejects.csv", format=Format.CSV),
    )
    with pytest.raises(RejectThresholdExceeded):
        _runner().run(_pipe(target, ROWS), P())
    assert django_model_for(Product).objects.count() == 0
    assert (files_root / "rejects.csv").exists()


def test_fail_mode_violation_on_row_500_leaves_no_row_of_the_step(runtime, files_root):
    rows = {
        "sku": [f"s{i}" for i in range(1000)],
        "name": ["n"] * 1000,
        "price_cents": [0 if i == 500 else 10 for i in range(1000)],
    }
    with pytest.raises(Exception, match="price must be positive"):
        _runner().run(_pipe(IntoUseCase(CreateProductUseCase), rows), P())
    assert django_model_for(Product).objects.count() == 0


def test_logs_per_batch_not_per_row(runtime, files_root, caplog):
    rows = {"sku": [f"s{i}" for i in range(2000)], "name": ["n"] * 2000, "price_cents": [1] * 2000}
    with caplog.at_level(logging.INFO):
        _runner().run(_pipe(IntoUseCase(CreateProductUseCase, batch_size=1000), rows), P())
    assert django_model_for(Product).objects.count() == 2000
    assert len([r for r in caplog.records if r.levelno >= logging.INFO]) <= 10
