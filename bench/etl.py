"""The ETL door vs hand-written Polars / PySpark / Django code, measured in the same run.

Data (spec §10.3): ``--rows`` generated rows (NumPy seed 0) in Parquet: ``id``, ``customer`` in
[0, 100 000), ``amount`` in [0, 100), ``country`` (4 strings), ``year`` (2024/2025), plus a
100 000-row ``dims`` table (customer → region). Jobs, through ``ETLRunner.run`` in-process:

  J1 map        filter ``amount > 10``, add ``gross = amount * 1.21``          → Parquet
  J2 aggregate  filter, ``group_by(customer, country)`` sum + count            → Parquet
  J3 two steps  J1 into ``IntoTemp``, then J2 from ``FromTemp``                → Parquet
  J6 join       facts ⋈ dims, ``group_by(region)`` sum                         → Parquet

Polars baseline: the same lazy query from ``scan_parquet``, written with the faster of
``sink_parquet`` and ``collect().write_parquet`` (chosen in the warm-up); J3's baseline writes
its intermediate by hand too (faster of ``sink_ipc`` and ``collect().write_ipc``), and a fused
single query is printed for information. ``--spark``: the same jobs as StepSQL on our Spark
runner vs plain PySpark SQL in the same session on ``--spark-rows``.
J4: appending ``--table-rows`` rows to a Django table (one text column; then a float and a
date) vs a hand-written ``cursor.executemany``
loop (SQLite), and with ``--postgres-url`` a COPY loop on PostgreSQL; ``bulk_create`` beside.
J5: ``--use-case-rows`` rows through IntoUseCase in validate and execute mode (rows/s).
F (fixed costs, §10.2 item 1): a no-op one-step run on a one-row in-memory frame vs writing
that row by hand, without history and with history + lock on SQLite (rollback journal and
WAL) and PostgreSQL; compiling a 50-step pipeline; ``manage.py loom_etl list`` start-up.
P57: ``parse_json`` (lenient, per batch) vs the bare native decode on a clean 1M-row column.

    python bench/etl.py [--jobs J1,J2,J3,J6,J4,J5,F,P57] [--rows 10000000] [--reps 15]
                        [--spark --spark-rows 1000000] [--table-rows 1000000]
                        [--use-case-rows 100000]
                        [--postgres-url postgres://postgres@127.0.0.1:5432/bench]

Method: ours and the baseline alternate run by run (ours first on odd runs, baseline first
on even runs) after one warm-up each; medians; ratio = ours / baseline; the last lines say
PASS/FAIL against the aims of spec §12 items 83-86. Caveats: a shared 2-core machine (other
processes run beside it), so ratios are what matters, and a few percent is within noise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AIMS: list[tuple[str, bool, str]] = []  # (criterion, passed, figure) for the summary


def _aim(criterion: str, passed: bool, figure: str) -> None:
    AIMS.append((criterion, passed, figure))


def _configure(root: Path, url: str | None, postgres_url: str | None) -> None:
    import dj_database_url
    import django
    from django.conf import settings

    wal = dj_database_url.parse(f"sqlite:///{root / 'wal.sqlite3'}")
    wal["OPTIONS"] = {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"}
    settings.configure(
        SECRET_KEY="bench",
        USE_TZ=True,
        DEBUG=False,
        INSTALLED_APPS=["django.contrib.contenttypes", "loom_django", "tests.testapp"],
        DATABASES={
            "default": dj_database_url.parse(url or f"sqlite:///{root / 'bench.sqlite3'}"),
            "wal": wal,
            **({"pg": dj_database_url.parse(postgres_url)} if postgres_url else {}),
        },
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        LOOM={
            "ETL_AUTODISCOVER": False,
            "CONFIG": {
                "app": {
                    "discovery": {
                        "mode": "modules",
                        "modules": {"include": ["tests.etl.use_cases"]},
                    },
                    "jobs": {"backend": "inline"},
                }
            },
        },
    )
    django.setup()
    from django.core.management import call_command

    for alias in settings.DATABASES:
        call_command("migrate", database=alias, verbosity=0)


def _time(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _alternate(
    ours: Callable[[], Any],
    base: Callable[[], Any],
    reps: int,
    reset: Callable[[], Any] = lambda: None,
) -> tuple[float, float]:
    """Median wall time of each, alternating which goes first; ``reset`` runs untimed."""
    a: list[float] = []
    b: list[float] = []
    for i in range(reps):
        order = [(ours, a), (base, b)] if i % 2 == 0 else [(base, b), (ours, a)]
        for fn, times in order:
            times.append(_time(fn))
            reset()
    return statistics.median(a), statistics.median(b)


def _report(name: str, ours: float, base: float) -> float:
    ratio = ours / base
    print(
        f"{name:<40} ours {ours * 1000:9.1f} ms   baseline {base * 1000:9.1f} ms   "
        f"ratio {ratio:5.3f}x",
        flush=True,
    )
    return ratio


def _fastest(*fns: Callable[[], Any], reps: int = 3) -> Callable[[], Any]:
    """The fastest of several ways to write the same thing (median of ``reps`` runs)."""
    best = min(fns, key=lambda fn: statistics.median(_time(fn) for _ in range(reps)))
    return best


def _pipeline(*steps: type) -> type:
    from loom_django.etl import ETLParams, ETLPipeline, ETLProcess

    params = steps[0].params_type or ETLParams
    proc = types.new_class(
        "Proc", (ETLProcess[params],), exec_body=lambda d: d.update(steps=list(steps))
    )
    return types.new_class(
        "Pipe", (ETLPipeline[params],), exec_body=lambda d: d.update(processes=[proc])
    )


def _step(name: str, base: Any, **attrs: Any) -> type:
    return types.new_class(name, (base,), exec_body=lambda d: d.update(attrs))


# -- J1-J3, J6 ----------------------------------------------------------------------------

SQL = {
    "J1": "SELECT *, amount * 1.21 AS gross FROM facts WHERE amount > 10",
    "J2": (
        "SELECT customer, country, SUM(amount) AS total, COUNT(*) AS n FROM facts "
        "WHERE amount > 10 GROUP BY customer, country"
    ),
    "J6": (
        "SELECT d.region AS region, SUM(f.amount) AS total FROM facts AS f "
        "JOIN dims AS d ON f.customer = d.customer GROUP BY d.region"
    ),
}
J3_SECOND = (
    "SELECT customer, country, SUM(amount) AS total, COUNT(*) AS n FROM mapped "
    "WHERE amount > 10 GROUP BY customer, country"
)


def _generate(root: Path, rows: int) -> None:
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(0)
    countries = np.array(["ES", "FR", "DE", "IT"])
    pl.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "customer": rng.integers(0, 100_000, rows, dtype=np.int64),
            "amount": rng.random(rows) * 100,
            "country": countries[rng.integers(0, 4, rows)],
            "year": rng.integers(2024, 2026, rows, dtype=np.int64),
        }
    ).write_parquet(root / "facts.parquet")
    pl.DataFrame(
        {
            "customer": np.arange(100_000, dtype=np.int64),
            "region": [f"r{i % 20}" for i in range(100_000)],
        }
    ).write_parquet(root / "dims.parquet")


def _j1(f: Any) -> Any:
    import polars as pl

    return f.filter(pl.col("amount") > 10).with_columns((pl.col("amount") * 1.21).alias("gross"))


def _j2(f: Any) -> Any:
    import polars as pl

    return (
        f.filter(pl.col("amount") > 10)
        .group_by("customer", "country")
        .agg(pl.col("amount").sum().alias("total"), pl.len().alias("n"))
    )


def _j6(f: Any, d: Any) -> Any:
    import polars as pl

    return f.join(d, on="customer").group_by("region").agg(pl.col("amount").sum().alias("total"))


def _polars_jobs(root: Path, reps: int, jobs: set[str]) -> dict[str, float]:
    import polars as pl

    from loom_django.etl import ETLParams, ETLStep, Format, FromFile, FromTemp, IntoFile, IntoTemp
    from loom_django.etl.config import EtlConfig, StorageConfig, TempConfig
    from loom_django.etl.runner import ETLRunner

    temps = StorageConfig(temp=TempConfig(root=str(root / "temps")))
    runner = ETLRunner(EtlConfig(files_root=str(root), storage=temps))
    facts = FromFile("facts.parquet", format=Format.PARQUET)
    dims = FromFile("dims.parquet", format=Format.PARQUET)
    out = IntoFile("ours.parquet", format=Format.PARQUET)
    S = ETLStep[ETLParams]

    def scan(name: str) -> Any:
        return pl.scan_parquet(root / f"{name}.parquet")

    def writer(build: Callable[[], Any]) -> Callable[[], Any]:
        """The faster of sink_parquet and collect().write_parquet, atomic like ours."""
        target, tmp = root / "base.parquet", root / "base.parquet.tmp"

        def sink() -> None:
            build().sink_parquet(tmp, compression="zstd")
            os.replace(tmp, target)

        def collect() -> None:
            build().collect().write_parquet(tmp, compression="zstd")
            os.replace(tmp, target)

        return _fastest(sink, collect)

    pipes: dict[str, tuple[type, Callable[[], Any]]] = {}
    pipes["J1"] = (
        _pipeline(
            _step(
                "J1", S, facts=facts, target=out, execute=lambda self, params, *, facts: _j1(facts)
            )
        ),
        writer(lambda: _j1(scan("facts"))),
    )
    pipes["J2"] = (
        _pipeline(
            _step(
                "J2", S, facts=facts, target=out, execute=lambda self, params, *, facts: _j2(facts)
            )
        ),
        writer(lambda: _j2(scan("facts"))),
    )
    first = _step(
        "Map",
        S,
        facts=facts,
        target=IntoTemp("mapped"),
        execute=lambda self, params, *, facts: _j1(facts),
    )
    second = _step(
        "Aggregate",
        S,
        mapped=FromTemp("mapped"),
        target=out,
        execute=lambda self, params, *, mapped: _j2(mapped),
    )
    spool = root / "mapped.arrow"

    def spool_sink() -> None:
        _j1(scan("facts")).sink_ipc(spool)

    def spool_collect() -> None:
        _j1(scan("facts")).collect().write_ipc(spool)

    spooler = _fastest(spool_sink, spool_collect)
    final = writer(lambda: _j2(pl.scan_ipc(spool)))

    def j3_by_hand() -> None:
        spooler()
        final()
        spool.unlink()

    pipes["J3"] = (_pipeline(first, second), j3_by_hand)
    pipes["J6"] = (
        _pipeline(
            _step(
                "J6",
                S,
                facts=facts,
                dims=dims,
                target=out,
                execute=lambda self, params, *, facts, dims: _j6(facts, dims),
            )
        ),
        writer(lambda: _j6(scan("facts"), scan("dims"))),
    )
    ratios: dict[str, float] = {}
    for name in ("J1", "J2", "J3", "J6"):
        if name not in jobs:
            continue
        pipe, base = pipes[name]

        def ours(pipe: type = pipe) -> None:
            runner.run(pipe, ETLParams())

        ours()  # warm-up (compile, page cache)
        base()
        ratios[name] = _report(f"polars {name}", *_alternate(ours, base, reps))
    if "J3" in jobs:
        fused = writer(lambda: _j2(_j1(scan("facts"))))
        seconds = statistics.median(_time(fused) for _ in range(3))
        print(f"{'   (J3 fused into one query, info)':<40} {seconds * 1000:9.1f} ms", flush=True)
    return ratios


def _spark_jobs(root: Path, rows: int, reps: int, jobs: set[str]) -> dict[str, float]:
    from pyspark.sql import SparkSession

    from loom_django.etl import ETLParams, Format, FromFile, FromTemp, IntoFile, IntoTemp, StepSQL
    from loom_django.etl.config import EtlConfig, StorageConfig, TempConfig
    from loom_django.etl.runner import ETLRunner

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("bench-etl")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.ansi.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark_root = root / "spark"
    spark_root.mkdir()
    _generate(spark_root, rows)
    temps = StorageConfig(temp=TempConfig(root=str(spark_root / "temps")))
    config = EtlConfig(files_root=str(spark_root), storage=temps)
    runner = ETLRunner(config, backend="spark", spark=spark)
    facts = FromFile("facts.parquet", format=Format.PARQUET)
    dims = FromFile("dims.parquet", format=Format.PARQUET)
    out = IntoFile("ours_out", format=Format.PARQUET)
    S = StepSQL[ETLParams, Any]

    def views() -> None:
        spark.read.parquet(str(spark_root / "facts.parquet")).createOrReplaceTempView("facts")
        spark.read.parquet(str(spark_root / "dims.parquet")).createOrReplaceTempView("dims")

    def by_hand(sql: str) -> Callable[[], Any]:
        def run() -> None:
            views()
            spark.sql(sql).write.mode("overwrite").parquet(str(spark_root / "base_out"))

        return run

    def j3_by_hand() -> None:
        views()
        spark.sql(SQL["J1"]).write.mode("overwrite").parquet(str(spark_root / "mapped"))
        spark.read.parquet(str(spark_root / "mapped")).createOrReplaceTempView("mapped")
        spark.sql(J3_SECOND).write.mode("overwrite").parquet(str(spark_root / "base_out"))

    pipes: dict[str, tuple[type, Callable[[], Any]]] = {
        name: (
            _pipeline(_step(name, S, facts=facts, dims=dims, target=out, sql=SQL[name])),
            by_hand(SQL[name]),
        )
        for name in ("J1", "J2", "J6")
    }
    first = _step("Map", S, facts=facts, target=IntoTemp("mapped"), sql=SQL["J1"])
    second = _step("Aggregate", S, mapped=FromTemp("mapped"), target=out, sql=J3_SECOND)
    pipes["J3"] = (_pipeline(first, second), j3_by_hand)
    ratios: dict[str, float] = {}
    for name in ("J1", "J2", "J3", "J6"):
        if name not in jobs:
            continue
        pipe, base = pipes[name]

        def ours(pipe: type = pipe) -> None:
            runner.run(pipe, ETLParams())

        ours()
        base()
        ratios[name] = _report(f"spark  {name}", *_alternate(ours, base, reps))
    return ratios


# -- J4 / J5 ------------------------------------------------------------------------------


def _table_shape(shape: str, rows: int) -> tuple[Any, Any, Any]:
    """(model, frame, hand-written rows of a batch) of a J4 shape: ``publishers`` (one text
    column) or ``orders`` (a float and a date, like the spec's raw rows)."""
    from datetime import date, timedelta

    import polars as pl

    from tests.testapp.models import Publisher, RawOrder

    if shape == "publishers":
        frame = pl.DataFrame({"name": [f"publisher {i}" for i in range(rows)]})
        return Publisher, frame, lambda batch: batch.rows()
    start = date(2026, 1, 1)
    frame = pl.DataFrame(
        {
            "amount": [float(i % 1000) / 10 for i in range(rows)],
            "run_date": [start + timedelta(days=i % 365) for i in range(rows)],
        }
    )
    # by hand on SQLite: dates as ISO text, converted column-wise before the loop
    return (
        RawOrder,
        frame,
        lambda batch: batch.with_columns(pl.col("run_date").cast(pl.String)).rows(),
    )


def _table_job(rows: int, reps: int, alias: str, shape: str) -> None:
    """J4 on one database: our append (COPY on PostgreSQL, executemany elsewhere) vs the
    hand-written loop the spec names for that database, then bulk_create."""
    import polars as pl
    from django.db import connections, transaction

    from loom_django.etl import ETLParams, ETLStep, IntoTable
    from loom_django.etl.runner import ETLRunner

    connection = connections[alias]
    model, frame, hand_rows = _table_shape(shape, rows)
    table = connection.ops.quote_name(model._meta.db_table)
    names = frame.columns
    cols = ", ".join(connection.ops.quote_name(n) for n in names)
    batch = 10_000

    def execute(self: Any, params: Any) -> pl.LazyFrame:
        return frame.lazy()

    step = types.new_class(
        "Load",
        (ETLStep[ETLParams],),
        exec_body=lambda d: d.update(
            target=IntoTable(model).using(alias).append(), execute=execute
        ),
    )
    pipe = _pipeline(step)
    runner = ETLRunner()

    def clear() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table}")

    def ours() -> None:
        runner.run(pipe, ETLParams())

    def executemany() -> None:
        marks = ", ".join(["%s"] * len(names))
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            sql = f"INSERT INTO {table} ({cols}) VALUES ({marks})"
            for start in range(0, rows, batch):
                cursor.executemany(sql, hand_rows(frame.slice(start, batch)))

    def copy() -> None:
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            sql = f"COPY {table} ({cols}) FROM STDIN (FORMAT csv)"
            with cursor.cursor.copy(sql) as out:
                for start in range(0, rows, batch):
                    out.write(frame.slice(start, batch).write_csv(include_header=False))

    vendor = connection.vendor
    base, label = (copy, "COPY loop") if vendor == "postgresql" else (executemany, "executemany")
    for fn in (ours, base):
        fn()
        clear()
    o, b = _alternate(ours, base, reps, clear)
    ratio = _report(f"J4 {vendor} {shape} {rows} rows vs {label}", o, b)

    def bulk() -> None:
        model.objects.using(alias).bulk_create(
            [model(**row) for row in frame.iter_rows(named=True)], batch_size=batch
        )

    speedups: dict[str, float] = {}
    others = [("bulk_create", bulk)]
    if vendor == "postgresql":
        others.insert(0, ("executemany", executemany))
    for name, fn in others:
        times = []
        for _ in range(3):
            times.append(_time(fn))
            clear()
        median = statistics.median(times)
        print(
            f"{'   (' + name + ', same batches)':<34} {median * 1000:9.1f} ms   "
            f"ours is {median / o:4.1f}x faster",
            flush=True,
        )
        speedups[name] = median / o
    if vendor == "sqlite":
        _aim(
            f"§12.86 J4 SQLite append {rows} {shape}: ≤ 1.10x executemany, ≥ 5x bulk_create",
            ratio <= 1.10 and speedups["bulk_create"] >= 5,
            f"{ratio:.3f}x executemany, {speedups['bulk_create']:.1f}x faster than bulk_create",
        )


def _use_case_job(rows: int) -> None:
    import polars as pl

    from loom_django.etl import ETLParams, ETLStep, IntoUseCase
    from loom_django.etl.runner import ETLRunner
    from loom_django.orm.mapping import django_model_for
    from loom_django.runtime import get_runtime
    from tests.etl.use_cases import CreateProductUseCase
    from tests.testapp.models import Product

    frame = pl.DataFrame(
        {
            "sku": [f"sku-{i}" for i in range(rows)],
            "name": ["n"] * rows,
            "price_cents": [0 if i % 10 == 0 else 100 for i in range(rows)],
        }
    )
    runner = ETLRunner(runtime=get_runtime)
    for mode in ("validate", "execute"):

        def execute(self: Any, params: Any) -> pl.LazyFrame:
            return frame.lazy()

        target = IntoUseCase(CreateProductUseCase, mode=mode, on_error="reject")
        step = types.new_class(
            "Feed",
            (ETLStep[ETLParams],),
            exec_body=lambda d, t=target, e=execute: d.update(target=t, execute=e),
        )
        seconds = _time(lambda step=step: runner.run(_pipeline(step), ETLParams()))
        print(
            f"J5 IntoUseCase {mode:<9} {rows} rows   {seconds:7.2f} s   "
            f"{rows / seconds:9.0f} rows/s",
            flush=True,
        )
        django_model_for(Product).objects.all().delete()


# -- F: fixed costs; P57: parse_json ------------------------------------------------------


def _fixed_costs(root: Path, reps: int, postgres: bool) -> None:
    import polars as pl

    from loom_django.etl import ETLCompiler, ETLParams, ETLStep, Format, IntoFile
    from loom_django.etl.config import EtlConfig, HistoryConfig
    from loom_django.etl.launch import Launch, launch
    from loom_django.etl.runner import ETLRunner

    def noop(self: Any, params: Any) -> pl.LazyFrame:
        return pl.LazyFrame({"a": [1]})

    S = ETLStep[ETLParams]
    pipe = _pipeline(
        _step("Noop", S, target=IntoFile("noop.parquet", format=Format.PARQUET), execute=noop)
    )

    def by_hand() -> None:
        frame = pl.LazyFrame({"a": [1]}).collect()
        frame.write_parquet(root / "hand.tmp")
        os.replace(root / "hand.tmp", root / "hand.parquet")

    variants: list[tuple[str, str | None]] = [
        ("no history, no lock", None),
        ("history + lock, SQLite rollback journal", "default"),
        ("history + lock, SQLite WAL", "wal"),
    ]
    if postgres:
        variants.append(("history + lock, PostgreSQL", "pg"))
    for label, alias in variants:
        history = HistoryConfig(database=alias or "default", enabled=alias is not None)
        runner = ETLRunner(EtlConfig(files_root=str(root), history=history))

        def ours(runner: ETLRunner = runner, alias: str | None = alias) -> None:
            launch(runner, pipe, "noop", ETLParams(), Launch(lock=alias is not None))

        ours()
        by_hand()
        o, b = _alternate(ours, by_hand, reps * 2)
        extra = (o - b) * 1000
        print(
            f"F  no-op step, {label:<38} +{extra:6.2f} ms over by hand "
            f"({o * 1000:.2f} vs {b * 1000:.2f} ms)",
            flush=True,
        )
        if alias in (None, "default", "wal"):
            _aim(f"§12.85 no-op step fixed cost ≤ 5 ms ({label})", extra <= 5.0, f"+{extra:.2f} ms")
    steps = [
        _step(f"S{i}", S, target=IntoFile(f"s{i}.parquet", format=Format.PARQUET), execute=noop)
        for i in range(50)
    ]
    big = _pipeline(*steps)
    compile_s = statistics.median(
        _time(lambda: ETLCompiler(EtlConfig()).compile(big)) for _ in range(reps)
    )
    print(f"F  compile a 50-step pipeline (fresh compiler)  {compile_s * 1000:7.2f} ms", flush=True)
    _aim(
        "§12.85 compile a 50-step pipeline ≤ 50 ms",
        compile_s <= 0.050,
        f"{compile_s * 1000:.2f} ms",
    )
    manage = ROOT / "example_project" / "manage.py"
    if manage.exists():
        start_s = statistics.median(
            _time(
                lambda: subprocess.run(
                    [sys.executable, str(manage), "loom_etl", "list"],
                    cwd=manage.parent,
                    capture_output=True,
                    check=True,
                )
            )
            for _ in range(3)
        )
        print(
            f"F  manage.py loom_etl list (process start, Django setup, registry)  "
            f"{start_s * 1000:7.0f} ms (reported, not gated)",
            flush=True,
        )


class _Address(msgspec.Struct):
    city: str
    zip: int


class _Payload(msgspec.Struct):
    id: int
    tags: list[str]
    address: _Address


def _parse_json_job(reps: int) -> None:
    import polars as pl

    from loom_django.etl import _json

    payload = '{"id": 1, "tags": ["a", "b"], "address": {"city": "Oslo", "zip": 150}}'
    frame = pl.DataFrame({"payload": [payload] * 1_000_000})
    contract = _json.describe(_Payload)
    dtype = _json.to_polars(contract)
    lenient = _json.json_decode("payload", contract, True)
    native = pl.col("payload").str.json_decode(dtype)

    def ours() -> None:
        frame.lazy().select(lenient).collect()

    def base() -> None:
        frame.lazy().select(native).collect()

    ours()
    base()
    ratio = _report("P57 parse_json 1M clean rows vs native", *_alternate(ours, base, reps))
    _aim("§12.57 parse_json on clean data ≤ 1.2x the native decode", ratio <= 1.2, f"{ratio:.3f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="J1,J2,J3,J6,J4,J5,F,P57", help="comma-separated jobs")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--spark", action="store_true")
    parser.add_argument("--spark-rows", type=int, default=1_000_000)
    parser.add_argument("--spark-reps", type=int, default=None)
    parser.add_argument("--table-rows", type=int, default=1_000_000)
    parser.add_argument("--table-reps", type=int, default=7)
    parser.add_argument("--use-case-rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--postgres-url", default=None, help="also run J4 and F on PostgreSQL")
    args = parser.parse_args()
    jobs = set(args.jobs.split(","))
    frame_jobs = jobs & {"J1", "J2", "J3", "J6"}
    print(f"bench/etl.py on {os.cpu_count()} CPUs (shared with other processes)", flush=True)
    with tempfile.TemporaryDirectory(prefix="loom-bench-etl-") as tmp:
        root = Path(tmp)
        _configure(root, args.database_url, args.postgres_url)
        if frame_jobs:
            _generate(root, args.rows)
            print(
                f"{sorted(frame_jobs)} on {args.rows} rows, "
                f"{args.reps} alternating repetitions, medians",
                flush=True,
            )
            ratios = _polars_jobs(root, args.reps, frame_jobs)
            core = {k: v for k, v in ratios.items() if k in ("J1", "J2", "J3")}
            if core:
                _aim(
                    f"§12.83 Polars J1-J3 overhead < 5 % ({args.rows} rows)",
                    all(r < 1.05 for r in core.values()),
                    ", ".join(f"{k} {v:.3f}x" for k, v in core.items()),
                )
            if args.spark:
                reps = args.spark_reps or args.reps
                print(f"Spark on {args.spark_rows} rows, {reps} repetitions", flush=True)
                ratios = _spark_jobs(root, args.spark_rows, reps, frame_jobs)
                core = {k: v for k, v in ratios.items() if k in ("J1", "J2", "J3")}
                if core:
                    _aim(
                        f"§12.84 Spark J1-J3 overhead < 5 % ({args.spark_rows} rows)",
                        all(r < 1.05 for r in core.values()),
                        ", ".join(f"{k} {v:.3f}x" for k, v in core.items()),
                    )
        if "J4" in jobs:
            for shape in ("publishers", "orders"):
                _table_job(args.table_rows, args.table_reps, "default", shape)
                if args.postgres_url:
                    _table_job(args.table_rows, args.table_reps, "pg", shape)
        if "J5" in jobs:
            _use_case_job(args.use_case_rows)
        if "F" in jobs:
            _fixed_costs(root, args.reps, bool(args.postgres_url))
        if "P57" in jobs:
            _parse_json_job(max(5, args.reps // 2))
    for criterion, passed, figure in AIMS:
        print(f"{'PASS' if passed else 'FAIL'}  {criterion}: {figure}", flush=True)


if __name__ == "__main__":
    main()
