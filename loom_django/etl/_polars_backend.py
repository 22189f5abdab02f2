"""Polars glue of the runner: read sources, run StepSQL, write every kind of target."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from loom_django.etl._audit import add_audit
from loom_django.etl._django_io import iter_rows, write_table
from loom_django.etl._django_scan import scan_table
from loom_django.etl._temps import temp_path
from loom_django.etl.config import EtlConfig
from loom_django.etl.errors import SchemaError
from loom_django.etl.plan import SourceBinding, StepPlan, TargetBinding
from loom_django.etl.schema import (
    CsvReadOptions,
    CsvWriteOptions,
    Format,
    JsonReadOptions,
    ParquetWriteOptions,
)
from loom_django.etl.sources import FromFile, FromQuery, FromTable, FromTemp, JsonColumn
from loom_django.etl.targets import IntoFile, IntoHistory, IntoTable, IntoTemp, IntoUseCase

__all__ = [
    "read_source",
    "read_streaming",
    "render_path",
    "run_client_step",
    "run_sql",
    "write_rejects",
    "write_target",
]


def render_path(template: str, params: Any, config: EtlConfig) -> Path:
    """``template`` with ``{field}`` placeholders filled (dates as ISO), under files_root."""
    values = {}
    for name in getattr(type(params), "__struct_fields__", ()):
        value = getattr(params, name)
        values[name] = value.isoformat() if isinstance(value, date | datetime) else value
    path = Path(template.format(**values)) if "{" in template else Path(template)
    return path if path.is_absolute() else config.root() / path


def _scan_file(spec: FromFile, path: Path) -> pl.LazyFrame:
    opts = spec.options
    if spec.format is Format.CSV:
        csv = opts if isinstance(opts, CsvReadOptions) else CsvReadOptions()
        if not path.exists():
            raise FileNotFoundError(f"source file {path} does not exist")
        frame = pl.scan_csv(
            path,
            separator=csv.separator,
            has_header=csv.has_header,
            null_values=list(csv.null_values) or None,
            encoding="utf8-lossy" if csv.encoding != "utf8" else "utf8",
            infer_schema_length=csv.infer_schema_length,
            skip_rows=csv.skip_rows,
        )
    elif spec.format is Format.JSON:
        js = opts if isinstance(opts, JsonReadOptions) else JsonReadOptions()
        frame = pl.scan_ndjson(path, infer_schema_length=js.infer_schema_length)
    elif spec.format is Format.PARQUET:
        frame = pl.scan_parquet(path)
    elif spec.format is Format.XLSX:
        frame = pl.read_excel(path).lazy()
    else:
        raise SchemaError(f"format {spec.format.value} is not readable by the Polars backend")
    return frame.select(spec.projected) if spec.projected else frame


def _parse_json(frame: pl.LazyFrame, columns: tuple[JsonColumn, ...]) -> pl.LazyFrame:
    from loom_django.etl._json import json_decode

    if not columns:
        return frame
    return frame.with_columns(
        json_decode(c.column, c.description, c.lenient).alias(c.column) for c in columns
    )


def read_source(
    binding: SourceBinding, params: Any, config: EtlConfig, temps: dict[str, list[Path]]
) -> pl.LazyFrame:
    """The lazy frame of one source."""
    spec = binding.spec
    if isinstance(spec, FromTable) and binding.delta is not None:
        from loom_django.etl._delta_io import read_delta

        return _parse_json(read_delta(binding.delta, spec, params), spec.json_columns)
    if isinstance(spec, FromTable):
        assert binding.route is not None
        table = scan_table(
            binding.route,
            columns=spec.projected,
            predicate=spec.predicate,
            params=params,
            batch_size=config.django.read_batch_size,
            server_side=config.django.server_side_cursors,
        )
        return _parse_json(table, spec.json_columns)
    if isinstance(spec, FromFile):
        assert binding.location is not None
        scan = _scan_file(spec, render_path(binding.location, params, config))
        return _parse_json(scan, spec.json_columns)
    if isinstance(spec, FromTemp):
        files = temps.get(spec.name)
        if not files:
            raise FileNotFoundError(f"temp {spec.name!r} was not written by an earlier IntoTemp")
        frames = [pl.scan_ipc(f) for f in files]
        if len(frames) == 1:
            return frames[0]
        return pl.concat(frames, how="diagonal_relaxed")
    if isinstance(spec, FromQuery):
        return _read_query(spec, params)
    raise TypeError(f"unsupported source {spec!r}")


def _read_query(spec: FromQuery, params: Any) -> pl.LazyFrame:
    from django.db import connections

    qs = spec.build(params)
    sql, args = qs.query.sql_with_params()
    names = list(qs.query.values_select) + list(qs.query.annotation_select)
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, args)
        rows = cursor.fetchall()
    return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None).lazy()


def run_sql(step: StepPlan, frames: dict[str, pl.LazyFrame], params: Any) -> pl.LazyFrame:
    """Run a StepSQL body over its sources registered under their aliases."""
    from loom_django.etl._sql import render_sql

    query = render_sql(step.sql, params)
    ctx = pl.SQLContext(frames=frames)
    result: pl.LazyFrame = ctx.execute(query, eager=False)
    return result


def run_client_step(step: StepPlan, params: Any) -> None:
    """Call ``execute(params, client=connection)`` in ``transaction.atomic``."""
    from django.db import connections, transaction

    alias = step.step_type.database
    with transaction.atomic(using=alias):
        step.step_type().execute(params, client=connections[alias])


def _collect(frame: Any, streaming: bool = False) -> pl.DataFrame:
    if isinstance(frame, pl.DataFrame):
        return frame
    if isinstance(frame, pl.LazyFrame):
        return frame.collect(engine="streaming") if streaming else frame.collect()
    raise TypeError(
        f"a step must return a polars LazyFrame or DataFrame, not {type(frame).__name__}"
    )


def _write_file(spec: IntoFile, frame: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex}")
    try:
        opts = spec.options
        kwargs = dict(getattr(opts, "kwargs", ()) or ())
        if spec.format is Format.CSV:
            csv = opts if isinstance(opts, CsvWriteOptions) else CsvWriteOptions()
            frame.write_csv(tmp, separator=csv.separator, include_header=csv.has_header, **kwargs)
        elif spec.format is Format.PARQUET:
            pq = opts if isinstance(opts, ParquetWriteOptions) else ParquetWriteOptions()
            frame.write_parquet(tmp, compression=pq.compression, **kwargs)  # type: ignore[arg-type]
        elif spec.format is Format.JSON:
            frame.write_ndjson(tmp)
        else:
            raise SchemaError(f"format {spec.format.value} cannot be written")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_temp(spec: IntoTemp, frame: pl.DataFrame, run: Any) -> None:
    path = temp_path(run, spec, ".arrow")
    files = run.temps.setdefault(spec.name, [])
    if files and spec.append:
        first = pl.read_ipc_schema(files[0])
        frame = frame.select(
            [
                (pl.col(n) if n in frame.columns else pl.lit(None))
                .cast(dtype, strict=False)
                .alias(n)
                for n, dtype in first.items()
            ]
        )
    tmp = path.with_suffix(".writing")
    frame.write_ipc(tmp)
    os.replace(tmp, path)
    files.append(path)


def _sink_temp(spec: IntoTemp, lazy: pl.LazyFrame, run: Any) -> int:
    """Stream a lazy result into its temp with ``sink_ipc`` (no collect, spec §10.1); the
    row count comes from the written file's record batches."""
    path = temp_path(run, spec, ".arrow")
    files = run.temps.setdefault(spec.name, [])
    if files and spec.append:
        first = pl.read_ipc_schema(files[0])
        names = lazy.collect_schema().names()
        lazy = lazy.select(
            [
                (pl.col(n) if n in names else pl.lit(None)).cast(dtype, strict=False).alias(n)
                for n, dtype in first.items()
            ]
        )
    tmp = path.with_suffix(".writing")
    try:
        lazy.sink_ipc(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    files.append(path)
    return int(pl.scan_ipc(path).select(pl.len()).collect().item())


def write_target(
    binding: TargetBinding,
    frame_like: Any,
    run: Any,
    config: EtlConfig,
    runtime: Any,
    *,
    streaming: bool = False,
    audit: Mapping[str, Any] | None = None,
) -> tuple[int, int]:
    """Materialise the step's frame once (with Polars' streaming engine when the step or
    the write mode asks for it) and write it; returns (written, rejected). ``audit``
    columns go into table targets only."""
    spec = binding.spec
    streaming = streaming or bool(getattr(spec, "streaming", False))
    if isinstance(spec, IntoTemp) and isinstance(frame_like, pl.LazyFrame):
        return _sink_temp(spec, frame_like, run), 0
    frame = _collect(frame_like, streaming)
    if isinstance(spec, IntoTable) and binding.delta is not None:
        from loom_django.etl._delta_io import write_delta

        policy = config.storage.missing_table_policy
        return write_delta(frame, binding.delta, spec, run.params, policy), 0
    if isinstance(spec, IntoTable):
        assert binding.route is not None
        written = write_table(
            add_audit(frame, binding.route, audit),
            binding.route,
            spec,
            run.params,
            batch_size=config.django.write_batch_size,
            now=datetime.now(UTC),
            copy=config.django.copy,
        )
        return written, 0
    if isinstance(spec, IntoHistory):
        return write_history_target(binding, frame, run, config), 0
    if isinstance(spec, IntoFile):
        assert binding.location is not None
        _write_file(spec, frame, render_path(binding.location, run.params, config))
        return frame.height, 0
    if isinstance(spec, IntoTemp):
        _write_temp(spec, frame, run)
        return frame.height, 0
    if isinstance(spec, IntoUseCase):
        return _write_use_case(binding, spec, frame, run, config, runtime)
    raise TypeError(f"unsupported target {spec!r}")


def write_history_target(
    binding: TargetBinding, frame: pl.DataFrame, run: Any, config: EtlConfig
) -> int:
    """Write an ``IntoHistory`` target (both backends hand it a Polars frame)."""
    from loom_django.etl._django_history import write_history

    assert binding.route is not None
    return write_history(
        frame,
        binding.route,
        binding.spec,  # type: ignore[arg-type]
        run.params,
        read_batch_size=config.django.read_batch_size,
        write_batch_size=config.django.write_batch_size,
        now=datetime.now(UTC),
    )


def _write_use_case(
    binding: TargetBinding,
    spec: IntoUseCase,
    frame: pl.DataFrame,
    run: Any,
    config: EtlConfig,
    runtime: Any,
) -> tuple[int, int]:
    from loom_django.etl._use_case import run_rows

    if runtime is None:
        raise RuntimeError("IntoUseCase needs the loom runtime; run through manage.py loom_etl")
    result = run_rows(spec, iter_rows(frame, spec.batch_size), frame.columns, run.params, runtime())
    if binding.rejects is not None:
        write_rejects(binding.rejects, result.rejects, run, config, columns=frame.columns)
    written = 0 if spec.mode == "validate" else len(result.valid)
    return written, len(result.rejects)


def write_rejects(
    binding: TargetBinding,
    rejects: list[dict[str, Any]],
    run: Any,
    config: EtlConfig,
    columns: list[str] | None = None,
) -> None:
    """Write the rejected rows (with their ``_loom_*`` columns) to the rejects target."""
    if rejects:
        frame = pl.DataFrame(rejects, infer_schema_length=None)
    else:
        schema: dict[str, Any] = dict.fromkeys(columns or [], pl.String)
        schema.update(
            {"_loom_row": pl.Int64, "_loom_error_type": pl.String, "_loom_violations": pl.String}
        )
        frame = pl.DataFrame(schema=schema)
    write_target(binding, frame, run, config, None)


read_streaming = read_source
"""Streaming steps read the same lazy sources (scans and batched Django reads)."""
