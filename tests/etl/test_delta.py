"""Delta tables with the ``delta`` extra (Polars backend): missing-table policy, schema
alignment, partition replacement, upsert (spec §2.8.1, §2.9.3, §2.9.4, §7.6, §12 items 46,
47, 49)."""

from __future__ import annotations

import logging
import types
from typing import Any

import polars as pl
import pytest

from loom_django.etl import (
    DuplicateKeyError,
    ETLParams,
    ETLPipeline,
    ETLProcess,
    ETLStep,
    FromTable,
    IntoTable,
    SchemaMode,
    col,
)
from loom_django.etl.config import EtlConfig, FilePath, StorageConfig, StorageDefaults
from loom_django.etl.errors import SchemaNotFoundError
from loom_django.etl.runner import ETLRunner

pytest.importorskip("deltalake")
pytestmark = pytest.mark.django_db


class P(ETLParams):
    pass


def _runner(root: Any, policy: str = "schema_mode") -> ETLRunner:
    storage = StorageConfig(
        defaults=StorageDefaults(table_path=FilePath(uri=str(root))), missing_table_policy=policy
    )
    return ETLRunner(EtlConfig(storage=storage))


def _pipe(target: Any, frame: pl.DataFrame, **sources: Any) -> type[Any]:
    def execute(self: Any, params: P, **frames: pl.LazyFrame) -> pl.LazyFrame:
        return frame.lazy()

    step = types.new_class(
        "W", (ETLStep[P],), exec_body=lambda d: d.update(target=target, execute=execute, **sources)
    )
    proc = types.new_class("Proc", (ETLProcess[P],), exec_body=lambda d: d.update(steps=[step]))
    return types.new_class(
        "Pipe", (ETLPipeline[P],), exec_body=lambda d: d.update(processes=[proc])
    )


def _table(root: Any, name: str = "lake/orders") -> pl.DataFrame:
    return pl.read_delta(str(root / name))


ORDERS = pl.DataFrame({"id": [1, 2], "amount": [1.0, 2.0], "country": ["ES", "FR"]})


def test_append_to_a_missing_table_is_schema_not_found_at_preflight(tmp_path):
    """etl §12.46"""
    with pytest.raises(SchemaNotFoundError) as info:
        _runner(tmp_path).run(_pipe(IntoTable("lake.orders").append(), ORDERS), P())
    assert "SchemaMode.OVERWRITE" in info.value.message
    assert "missing_table_policy='create'" in info.value.message
    assert not (tmp_path / "lake").exists()


@pytest.mark.parametrize(
    ("target", "policy"),
    [
        (IntoTable("lake.orders").append(schema=SchemaMode.OVERWRITE), "schema_mode"),
        (IntoTable("lake.orders").append(), "create"),
    ],
    ids=["overwrite-schema", "create-policy"],
)
def test_either_remedy_creates_the_table(tmp_path, target, policy):
    """etl §12.46"""
    _runner(tmp_path, policy).run(_pipe(target, ORDERS), P())
    assert _table(tmp_path).sort("id").equals(ORDERS)


def test_the_error_policy_never_creates(tmp_path):
    """etl §12.46"""
    target = IntoTable("lake.orders").append(schema=SchemaMode.OVERWRITE)
    with pytest.raises(SchemaNotFoundError):
        _runner(tmp_path, "error").run(_pipe(target, ORDERS), P())


def _seed(root: Any) -> None:
    create = IntoTable("lake.orders").replace(schema=SchemaMode.OVERWRITE)
    _runner(root).run(_pipe(create, ORDERS), P())


def test_strict_casts_fills_drops_and_orders_like_the_table(tmp_path, caplog):
    """etl §12.47"""
    _seed(tmp_path)
    frame = pl.DataFrame({"extra": [0], "amount": ["1.5"], "id": [3]})
    with caplog.at_level(logging.WARNING):
        _runner(tmp_path).run(_pipe(IntoTable("lake.orders").append(), frame), P())
    table = _table(tmp_path)
    assert table.columns == ["id", "amount", "country"]
    assert table.filter(pl.col("id") == 3).row(0) == (3, 1.5, None)
    assert any("extra" in r.getMessage() for r in caplog.records)


def test_evolve_keeps_the_extra_column(tmp_path):
    """etl §12.47"""
    _seed(tmp_path)
    frame = pl.DataFrame({"id": [3], "amount": [3.0], "country": ["IT"], "channel": ["web"]})
    target = IntoTable("lake.orders").append(schema=SchemaMode.EVOLVE)
    _runner(tmp_path).run(_pipe(target, frame), P())
    assert _table(tmp_path).filter(pl.col("id") == 3)["channel"].to_list() == ["web"]


def test_overwrite_passes_the_frame_through(tmp_path):
    """etl §12.47"""
    _seed(tmp_path)
    frame = pl.DataFrame({"code": ["x"]})
    target = IntoTable("lake.orders").replace(schema=SchemaMode.OVERWRITE)
    _runner(tmp_path).run(_pipe(target, frame), P())
    assert _table(tmp_path).equals(frame)


def _partitioned(root: Any) -> None:
    frame = pl.DataFrame({"year": [2024, 2024, 2025], "month": [1, 2, 1], "v": ["a", "b", "c"]})
    target = IntoTable("lake.facts").replace_partitions(
        "year", "month", schema=SchemaMode.OVERWRITE
    )
    _runner(root).run(_pipe(target, frame), P())


def test_replace_partitions_replaces_only_the_pairs_in_the_frame(tmp_path):
    """etl §12.49"""
    _partitioned(tmp_path)
    new = pl.DataFrame({"year": [2024], "month": [1], "v": ["z"]})
    _runner(tmp_path).run(
        _pipe(IntoTable("lake.facts").replace_partitions("year", "month"), new), P()
    )
    rows = sorted(_table(tmp_path, "lake/facts").rows())
    assert rows == [(2024, 1, "z"), (2024, 2, "b"), (2025, 1, "c")]


def test_replace_partitions_with_an_empty_frame_changes_nothing(tmp_path, caplog):
    """etl §12.49"""
    _partitioned(tmp_path)
    empty = pl.DataFrame(schema={"year": pl.Int64, "month": pl.Int64, "v": pl.String})
    target = IntoTable("lake.facts").replace_partitions("year", "month")
    _runner(tmp_path).run(_pipe(target, empty), P())
    assert _table(tmp_path, "lake/facts").height == 3
    assert any("empty frame" in r.getMessage() for r in caplog.records)


def test_a_null_partition_value_raises_value_error(tmp_path):
    """etl §12.49"""
    _partitioned(tmp_path)
    frame = pl.DataFrame(
        {"year": [None], "month": [1], "v": ["n"]}, schema_overrides={"year": pl.Int64}
    )
    target = IntoTable("lake.facts").replace_partitions("year", "month")
    with pytest.raises(ValueError, match="null value"):
        _runner(tmp_path).run(_pipe(target, frame), P())
    assert _table(tmp_path, "lake/facts").height == 3


def test_upsert_merges_on_keys_and_refuses_duplicate_keys(tmp_path):
    _seed(tmp_path)
    frame = pl.DataFrame({"id": [2, 3], "amount": [20.0, 30.0], "country": ["XX", "IT"]})
    target = IntoTable("lake.orders").upsert(keys=("id",), exclude=("country",))
    _runner(tmp_path).run(_pipe(target, frame), P())
    assert sorted(_table(tmp_path).rows()) == [(1, 1.0, "ES"), (2, 20.0, "FR"), (3, 30.0, "IT")]
    with pytest.raises(DuplicateKeyError):
        _runner(tmp_path).run(_pipe(target, pl.concat([frame, frame])), P())


def test_a_delta_source_reads_with_its_predicate_and_projection(tmp_path, files_root):
    _seed(tmp_path)
    seen: list[pl.DataFrame] = []

    def execute(self: Any, params: P, *, orders: pl.LazyFrame) -> pl.LazyFrame:
        seen.append(orders.collect())
        return orders

    source = FromTable("lake.orders").where(col("amount") > 1).columns("id")
    step = types.new_class(
        "R",
        (ETLStep[P],),
        exec_body=lambda d: d.update(
            orders=source, target=IntoTable("lake.copy").replace(), execute=execute
        ),
    )
    proc = types.new_class("Proc", (ETLProcess[P],), exec_body=lambda d: d.update(steps=[step]))
    pipe = types.new_class(
        "Pipe", (ETLPipeline[P],), exec_body=lambda d: d.update(processes=[proc])
    )
    _runner(tmp_path, "create").run(pipe, P())
    assert seen[0].rows() == [(2,)]
    assert _table(tmp_path, "lake/copy").rows() == [(2,)]


def _spark_runner(root: Any) -> ETLRunner:
    pytest.importorskip("pyspark")
    storage = StorageConfig(defaults=StorageDefaults(table_path=FilePath(uri=str(root))))
    return ETLRunner(EtlConfig(storage=storage), backend="spark")


def test_delta_target_on_spark_is_feature_unavailable_before_anything_runs(tmp_path):
    """etl §12.29 and §7.6: Delta on Spark (no Delta jars here) is a compile error naming the
    Polars backend, not a failure midway through the run."""
    from loom_django.etl import ETLCompilationError, ETLErrorCode

    target = IntoTable("lake.orders").append(schema=SchemaMode.OVERWRITE)
    with pytest.raises(ETLCompilationError) as info:
        _spark_runner(tmp_path).run(_pipe(target, ORDERS), P())
    assert info.value.code is ETLErrorCode.FEATURE_UNAVAILABLE
    assert "Polars backend" in info.value.message
    assert not (tmp_path / "lake").exists()


def test_delta_source_on_spark_is_feature_unavailable(tmp_path):
    """etl §12.29: a Delta source on Spark fails the compile as well."""
    from loom_django.etl import ETLCompilationError, ETLErrorCode, IntoFile
    from loom_django.etl.schema import Format

    pipe = _pipe(IntoFile("out.csv", format=Format.CSV), ORDERS, orders=FromTable("lake.orders"))
    with pytest.raises(ETLCompilationError) as info:
        _spark_runner(tmp_path).run(pipe, P())
    assert info.value.code is ETLErrorCode.FEATURE_UNAVAILABLE and info.value.field == "orders"


def test_delta_pipeline_on_spark_exits_3_from_the_command(tmp_path):
    """etl §12.60 / §12.75: compile errors exit 3 (Delta on Spark)."""
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    pytest.importorskip("pyspark")
    with pytest.raises(CommandError) as info:
        call_command(
            "loom_etl",
            "run",
            "tests.etl.pipelines.LakePipeline",
            "--backend",
            "spark",
            "--set",
            f"storage.defaults.table_path.uri={tmp_path}",
            stdout=io.StringIO(),
        )
    assert info.value.returncode == 3 and "FEATURE_UNAVAILABLE" in str(info.value)
    assert not (tmp_path / "lake").exists()
