"""PySpark glue of the runner: the same declarations on Spark (local mode or a cluster).

Django tables are read on the driver with the same SQL as the Polars path and handed to
Spark as Arrow; table writes collect the result to the driver (Arrow) and reuse the Django
writer, so every write mode behaves exactly as on Polars (``etl.spark.django_io: driver``).
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from loom_django.etl._django_io import iter_rows, write_table
from loom_django.etl._django_scan import scan_table
from loom_django.etl._polars_backend import render_path, write_rejects
from loom_django.etl.config import EtlConfig
from loom_django.etl.errors import SchemaError
from loom_django.etl.plan import SourceBinding, StepPlan, TargetBinding
from loom_django.etl.schema import CsvReadOptions, Format
from loom_django.etl.sources import FromFile, FromQuery, FromTable, FromTemp
from loom_django.etl.targets import IntoFile, IntoHistory, IntoTable, IntoTemp, IntoUseCase

__all__ = [
    "get_session",
    "read_source",
    "read_streaming",
    "run_client_step",
    "run_sql",
    "set_session",
    "write_target",
]

_session: Any = None
_session_lock = threading.Lock()
_views_lock = threading.Lock()


def set_session(session: Any) -> None:
    """Use ``session`` for every Spark run of this process (tests, notebooks, clusters).

    Raises:
        ValueError: the session has ``spark.sql.ansi.enabled`` off (casts would turn bad
            values into nulls instead of failing).
    """
    global _session
    if str(session.conf.get("spark.sql.ansi.enabled", "true")).lower() != "true":
        raise ValueError("the SparkSession has spark.sql.ansi.enabled=false; casts must be strict")
    _session = session


def get_session(config: EtlConfig) -> Any:
    """The process's SparkSession, built once from ``etl.spark`` (ANSI on, UTC)."""
    global _session
    with _session_lock:
        if _session is None:
            from loom_django.extras import require

            require("pyspark", extra="spark")
            from pyspark.sql import SparkSession

            builder = SparkSession.builder.master(config.spark.master).appName(
                config.spark.app_name
            )
            settings = {
                "spark.sql.ansi.enabled": "true",
                "spark.sql.session.timeZone": "UTC",
                "spark.sql.execution.arrow.pyspark.enabled": "true",
                **config.spark.conf,
            }
            for key, value in settings.items():
                builder = builder.config(key, value)
            _session = builder.getOrCreate()
        return _session


def _from_polars(spark: Any, frame: pl.DataFrame) -> Any:
    """A Spark DataFrame typed from the frame's Arrow schema (an empty frame keeps it)."""
    return spark.createDataFrame(frame.to_arrow())


def _to_polars(df: Any) -> pl.DataFrame:
    table = df.toArrow()
    result = pl.from_arrow(table)
    assert isinstance(result, pl.DataFrame)
    return result


def read_source(
    binding: SourceBinding, params: Any, config: EtlConfig, temps: dict[str, list[Path]]
) -> Any:
    """The Spark DataFrame of one source.

    Raises:
        SchemaError: a ``parse_json`` declaration (Polars only in this version).
    """
    spark = get_session(config)
    spec = binding.spec
    if binding.delta is not None:
        raise SchemaError(f"source {binding.alias!r}: Delta tables run on the Polars backend only")
    if getattr(spec, "json_columns", ()):
        raise SchemaError(f"source {binding.alias!r}: parse_json runs on the Polars backend only")
    if isinstance(spec, FromTable):
        assert binding.route is not None
        frame = scan_table(
            binding.route,
            columns=spec.projected,
            predicate=spec.predicate,
            params=params,
            batch_size=config.django.read_batch_size,
            server_side=config.django.server_side_cursors,
        ).collect()
        return _from_polars(spark, frame)
    if isinstance(spec, FromFile):
        assert binding.location is not None
        return _read_file(spark, spec, render_path(binding.location, params, config))
    if isinstance(spec, FromTemp):
        files = temps.get(spec.name)
        if not files:
            raise FileNotFoundError(f"temp {spec.name!r} was not written by an earlier IntoTemp")
        df = spark.read.parquet(str(files[0]))
        for extra in files[1:]:
            df = df.unionByName(spark.read.parquet(str(extra)), allowMissingColumns=True)
        return df
    if isinstance(spec, FromQuery):
        from loom_django.etl._polars_backend import read_source as polars_read

        return _from_polars(spark, polars_read(binding, params, config, temps).collect())
    raise TypeError(f"unsupported source {spec!r}")


def _read_file(spark: Any, spec: FromFile, path: Path) -> Any:
    if not path.exists():
        raise FileNotFoundError(f"source file {path} does not exist")
    if spec.format is Format.CSV:
        csv = spec.options if isinstance(spec.options, CsvReadOptions) else CsvReadOptions()
        reader = spark.read.option("header", str(csv.has_header).lower()).option(
            "sep", csv.separator
        )
        if csv.null_values:
            reader = reader.option("nullValue", csv.null_values[0])
        df = reader.option("inferSchema", "true").csv(str(path))
    elif spec.format is Format.JSON:
        df = spark.read.json(str(path))
    elif spec.format is Format.PARQUET:
        df = spark.read.parquet(str(path))
    else:
        raise SchemaError(
            f"format {spec.format.value} is not readable by the Spark backend (UNSUPPORTED_FORMAT)"
        )
    return df.select(*spec.projected) if spec.projected else df


def run_sql(step: StepPlan, frames: dict[str, Any], params: Any) -> Any:
    """Register the sources as temporary views, run the SQL, drop the views (under a lock;
    the result keeps its analysed plan)."""
    from loom_django.etl._sql import render_sql

    query = render_sql(step.sql, params)
    spark = next(iter(frames.values())).sparkSession if frames else get_session(EtlConfig())
    with _views_lock:
        for alias, df in frames.items():
            df.createOrReplaceTempView(alias)
        try:
            result = spark.sql(query)
        finally:
            for alias in frames:
                spark.catalog.dropTempView(alias)
    return result


def run_client_step(step: StepPlan, params: Any) -> None:
    """As on Polars: the Django connection inside ``transaction.atomic``."""
    from loom_django.etl._polars_backend import run_client_step as polars_client

    polars_client(step, params)


def _write_file(spec: IntoFile, df: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex}")
    writer = df.write.mode("overwrite")
    for name, value in getattr(spec.options, "kwargs", ()) or ():
        writer = writer.option(name, str(value))
    if spec.format is Format.CSV:
        writer.option("header", "true").csv(str(tmp))
    elif spec.format is Format.PARQUET:
        writer.parquet(str(tmp))
    elif spec.format is Format.JSON:
        writer.json(str(tmp))
    else:
        raise SchemaError(f"format {spec.format.value} cannot be written")
    if path.exists():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    os.replace(tmp, path)


def _parquet_rows(path: Path) -> int:
    """Rows written, from the Parquet footers (no Spark job)."""
    import pyarrow.parquet as pq

    files = [path] if path.is_file() else sorted(path.glob("*.parquet"))
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def write_target(
    binding: TargetBinding,
    df: Any,
    run: Any,
    config: EtlConfig,
    runtime: Any,
    *,
    audit: Mapping[str, Any] | None = None,
) -> tuple[int, int]:
    """Write the step's DataFrame; Django tables and use cases go through the driver.
    ``audit`` columns go into table targets only."""
    spec = binding.spec
    if df is None or not hasattr(df, "sparkSession"):
        raise TypeError(f"a Spark step must return a pyspark DataFrame, not {type(df).__name__}")
    if binding.delta is not None:
        raise SchemaError("Delta tables run on the Polars backend only")
    if isinstance(spec, IntoTable):
        assert binding.route is not None
        from loom_django.etl._audit import add_audit

        frame = add_audit(_to_polars(df), binding.route, audit)
        written = write_table(
            frame,
            binding.route,
            spec,
            run.params,
            batch_size=config.django.write_batch_size,
            now=datetime.now(UTC),
            copy=config.django.copy,
        )
        return written, 0
    if isinstance(spec, IntoHistory):
        from loom_django.etl._polars_backend import write_history_target

        return write_history_target(binding, _to_polars(df), run, config), 0
    if isinstance(spec, IntoFile):
        assert binding.location is not None
        path = render_path(binding.location, run.params, config)
        if spec.format is Format.PARQUET:
            _write_file(spec, df, path)
            return _parquet_rows(path), 0
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        rows = Observation(f"loom_rows_{uuid.uuid4().hex}")
        _write_file(spec, df.observe(rows, F.count(F.lit(1)).alias("rows")), path)
        return int(rows.get["rows"]), 0  # counted by the write job itself
    if isinstance(spec, IntoTemp):
        from loom_django.etl._temps import temp_path

        path = temp_path(run, spec, ".parquet")
        df.write.parquet(str(path))
        run.temps.setdefault(spec.name, []).append(path)
        return _parquet_rows(path), 0
    if isinstance(spec, IntoUseCase):
        from loom_django.etl._use_case import run_rows

        if runtime is None:
            raise RuntimeError("IntoUseCase needs the loom runtime; run through manage.py loom_etl")
        frame = _to_polars(df)
        result = run_rows(
            spec, iter_rows(frame, spec.batch_size), frame.columns, run.params, runtime()
        )
        if binding.rejects is not None:
            write_rejects(binding.rejects, result.rejects, run, config, columns=frame.columns)
        return (0 if spec.mode == "validate" else len(result.valid)), len(result.rejects)
    raise TypeError(f"unsupported target {spec!r}")


read_streaming = read_source
"""Spark accepts ``streaming = True`` and reads as usual (the flag is ignored)."""
