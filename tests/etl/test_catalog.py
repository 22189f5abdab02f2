"""Catalog validation at pre-flight and replace-partition predicates (spec §3.4, §2.8.1,
§12 items 8, 23)."""

from __future__ import annotations

import types
from datetime import date
from typing import Any

import polars as pl
import pytest

from loom_django.etl import (
    ETLCompiler,
    ETLParams,
    ETLPipeline,
    ETLProcess,
    ETLStep,
    FromTable,
    IntoTable,
    SchemaMode,
    WriteMode,
    params,
)
from loom_django.etl import ETLErrorCode as C
from loom_django.etl.config import EtlConfig, FilePath, StorageConfig, StorageDefaults
from loom_django.etl.preflight import preflight_errors
from tests.testapp.models import Book, Ghost

pytestmark = pytest.mark.django_db


class P(ETLParams):
    run_date: date = date(2024, 1, 15)


def _step(name: str, target: Any, **sources: Any) -> type[Any]:
    def execute(self: Any, params: P, **frames: pl.LazyFrame) -> pl.LazyFrame:
        return pl.LazyFrame({"id": [1]})

    return types.new_class(
        name, (ETLStep[P],), exec_body=lambda d: d.update(target=target, execute=execute, **sources)
    )


def _pipe(*steps: Any) -> type[Any]:
    proc = types.new_class(
        "Proc", (ETLProcess[P],), exec_body=lambda d: d.update(steps=list(steps))
    )
    return types.new_class(
        "Pipe", (ETLPipeline[P],), exec_body=lambda d: d.update(processes=[proc])
    )


def _codes(pipe: type[Any], config: EtlConfig | None = None) -> list[tuple[str, C]]:
    plan = ETLCompiler(config or EtlConfig()).compile(pipe)
    return [(e.component, e.code) for e in preflight_errors(plan)]


def test_missing_django_source_table_is_unknown_source_table():
    """etl §12.23: a source table absent from the catalog."""
    reader = _step("Reader", IntoTable(Book).append(), ghosts=FromTable(Ghost))
    assert _codes(_pipe(reader)) == [("Reader", C.UNKNOWN_SOURCE_TABLE)]


def test_missing_strict_django_target_is_unknown_target_table():
    """etl §12.23: a STRICT target absent from the catalog."""
    writer = _step("Writer", IntoTable(Ghost).append())
    assert _codes(_pipe(writer)) == [("Writer", C.UNKNOWN_TARGET_TABLE)]


def test_existing_django_tables_pass_the_catalog():
    """etl §12.23: the migrated tables are in the catalog."""
    step = _step("Copy", IntoTable(Book).append(), books=FromTable(Book))
    assert _codes(_pipe(step)) == []


@pytest.fixture
def lake(tmp_path: Any) -> EtlConfig:
    pytest.importorskip("deltalake")
    defaults = StorageDefaults(table_path=FilePath(uri=str(tmp_path)))
    return EtlConfig(storage=StorageConfig(defaults=defaults))


def _creates(name: str, table: str) -> type[Any]:
    return _step(name, IntoTable(table).replace(schema=SchemaMode.OVERWRITE))


def _reads(name: str, *tables: str) -> type[Any]:
    sources = {t.replace(".", "_"): FromTable(t) for t in tables}
    return _step(name, IntoTable("lake.out").replace(schema=SchemaMode.OVERWRITE), **sources)


def test_overwrite_target_of_an_earlier_step_satisfies_a_later_source(lake):
    """etl §12.23: created by an earlier sequential step."""
    assert _codes(_pipe(_creates("A", "lake.a"), _reads("R", "lake.a")), lake) == []


def test_overwrite_target_of_a_parallel_sibling_does_not_count(lake):
    """etl §12.23: not a sibling in the same parallel group."""
    pipe = _pipe([_creates("A", "lake.a"), _reads("R", "lake.a")])
    assert _codes(pipe, lake) == [("R", C.UNKNOWN_SOURCE_TABLE)]


def test_after_a_parallel_group_every_members_creation_is_visible(lake):
    """etl §12.23: after the group, both creations are visible."""
    pipe = _pipe(
        [_creates("A", "lake.a"), _creates("B", "lake.b")], _reads("R", "lake.a", "lake.b")
    )
    assert _codes(pipe, lake) == []


def test_source_without_any_producer_is_unknown_source_table(lake):
    """etl §12.23: a Delta source nobody creates."""
    assert _codes(_pipe(_reads("R", "lake.nowhere")), lake) == [("R", C.UNKNOWN_SOURCE_TABLE)]


def test_replace_partition_compiles_to_replace_where_with_the_param_values(lake):
    """etl §12.8: ``replace_partition(year=..., month=...)`` under run_date=2024-01-15 renders
    ``(year = 2024) AND (month = 1)``."""
    from loom_django.etl._delta_io import sql_predicate

    target = IntoTable("lake.t").replace_partition(
        year=params.run_date.year, month=params.run_date.month
    )
    spec = ETLCompiler(lake).compile_step(_step("S", target)).target_binding.spec
    assert spec.mode is WriteMode.REPLACE_WHERE
    assert sql_predicate(spec.predicate, P()) == '(("year" = 2024) AND ("month" = 1))'
