"""The ETL door vs hand-written Polars / PySpark / Django code, measured in the same run.

J1 filter+project, J2 group-by, J3 join+aggregate: a Parquet file of ``--rows`` generated
rows through our Polars runner (one-step pipeline: FromFile → execute → IntoFile) vs the same
lazy query collected and written with plain Polars; with ``--spark``, the same declarations
(StepSQL) on our Spark runner vs plain PySpark SQL in the same session on ``--spark-rows``.
J4: appending ``--table-rows`` rows to a Django table (IntoTable(...).append()) vs a
hand-written ``cursor.executemany`` loop over the same frame (SQLite), and with
``--postgres-url`` also on PostgreSQL, where ours uses COPY and the baseline is a hand-written
COPY loop (executemany and bulk_create are reported beside it). J5: ``--use-case-rows`` rows
through IntoUseCase in validate and execute mode (rows/s).

    python bench/etl.py [--jobs J1,J2,J3,J4,J5] [--rows 10000000] [--reps 15]
                        [--spark --spark-rows 1000000]
                        [--table-rows 200000] [--use-case-rows 100000]
                        [--database-url sqlite:///tmp/bench.sqlite3]
                        [--postgres-url postgres://postgres@127.0.0.1:5432/bench]

Method: ours and the baseline alternate run by run (ours first on odd runs, baseline
first on even runs); the figure is the median wall time; ratio = ours / baseline.
Caveats: a shared 2-core machine; ratios are what matters.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _configure(url: str, postgres_url: str | None = None) -> None:
    import dj_database_url
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="bench",
        USE_TZ=True,
        DEBUG=False,
        INSTALLED_APPS=["django.contrib.contenttypes", "loom_django", "tests.testapp"],
        DATABASES={
            "default": dj_database_url.parse(url),
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
                    }
                }
            },
        },
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if postgres_url:
        call_command("migrate", database="pg", verbosity=0)


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


def _report(name: str, ours: float, base: float) -> None:
    print(
        f"{name:<34} ours {ours * 1000:9.1f} ms   baseline {base * 1000:9.1f} ms   "
        f"ratio {ours / base:5.3f}x",
        flush=True,
    )


def _pipeline(step: type) -> type:
    from loom_django.etl import ETLParams, ETLPipeline, ETLProcess

    params = step.params_type or ETLParams
    proc = types.new_class(
        "Proc", (ETLProcess[params],), exec_body=lambda d: d.update(steps=[step])
    )
    return types.new_class(
        "Pipe", (ETLPipeline[params],), exec_body=lambda d: d.update(processes=[proc])
    )


# -- J1-J3 ------------------------------------------------------------------------------

QUERIES = {
    "J1 filter+project": "SELECT id, customer, amount FROM facts WHERE amount > 500",
    "J2 group-by": (
        "SELECT customer, SUM(amount) AS total, COUNT(*) AS n FROM facts GROUP BY customer"
    ),
    "J3 join+aggregate": (
        "SELECT d.region AS region, SUM(f.amount) AS total FROM facts AS f "
        "JOIN dims AS d ON f.customer = d.customer GROUP BY d.region"
    ),
}


def _generate(root: Path, rows: int) -> None:
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(7)
    pl.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "customer": rng.integers(0, 10_000, rows, dtype=np.int64),
            "amount": rng.random(rows) * 1000,
        }
    ).write_parquet(root / "facts.parquet")
    pl.DataFrame(
        {
            "customer": np.arange(10_000, dtype=np.int64),
            "region": [f"r{i % 20}" for i in range(10_000)],
        }
    ).write_parquet(root / "dims.parquet")


def _polars_jobs(root: Path, reps: int) -> None:
    import polars as pl

    from loom_django.etl import ETLParams, ETLStep, Format, FromFile, IntoFile
    from loom_django.etl.config import EtlConfig
    from loom_django.etl.runner import ETLRunner

    runner = ETLRunner(EtlConfig(files_root=str(root)))
    bodies: dict[str, Callable[[pl.LazyFrame, pl.LazyFrame], pl.LazyFrame]] = {
        "J1 filter+project": lambda f, d: f.filter(pl.col("amount") > 500).select(
            "id", "customer", "amount"
        ),
        "J2 group-by": lambda f, d: f.group_by("customer").agg(
            pl.col("amount").sum().alias("total"), pl.len().alias("n")
        ),
        "J3 join+aggregate": lambda f, d: (
            f.join(d, on="customer").group_by("region").agg(pl.col("amount").sum().alias("total"))
        ),
    }

    def make_execute(body: Any) -> Any:
        def execute(
            self: Any, params: Any, *, facts: pl.LazyFrame, dims: pl.LazyFrame
        ) -> pl.LazyFrame:
            return body(facts, dims)

        return execute

    for name, body in bodies.items():
        execute = make_execute(body)

        step = types.new_class(
            "Job",
            (ETLStep[ETLParams],),
            exec_body=lambda d, execute=execute: d.update(
                facts=FromFile("facts.parquet", format=Format.PARQUET),
                dims=FromFile("dims.parquet", format=Format.PARQUET),
                target=IntoFile("ours.parquet", format=Format.PARQUET),
                execute=execute,
            ),
        )
        pipe = _pipeline(step)

        def ours(pipe: type = pipe) -> None:
            runner.run(pipe, ETLParams())

        def base(body: Any = body) -> None:
            out = body(
                pl.scan_parquet(root / "facts.parquet"), pl.scan_parquet(root / "dims.parquet")
            ).collect()
            tmp = root / "base.parquet.tmp"
            out.write_parquet(tmp, compression="zstd")
            os.replace(tmp, root / "base.parquet")

        ours()  # warm-up (compile, page cache)
        base()
        _report(f"polars {name}", *_alternate(ours, base, reps))


def _spark_jobs(root: Path, rows: int, reps: int) -> None:
    from pyspark.sql import SparkSession

    from loom_django.etl import ETLParams, Format, FromFile, IntoFile, StepSQL
    from loom_django.etl.config import EtlConfig
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
    runner = ETLRunner(EtlConfig(files_root=str(spark_root)), backend="spark", spark=spark)
    for name, sql in QUERIES.items():
        step = types.new_class(
            "Job",
            (StepSQL[ETLParams, Any],),
            exec_body=lambda d, sql=sql: d.update(
                facts=FromFile("facts.parquet", format=Format.PARQUET),
                dims=FromFile("dims.parquet", format=Format.PARQUET),
                target=IntoFile("ours_out", format=Format.PARQUET),
                sql=sql,
            ),
        )
        pipe = _pipeline(step)

        def ours(pipe: type = pipe) -> None:
            runner.run(pipe, ETLParams())

        def base(sql: str = sql) -> None:
            spark.read.parquet(str(spark_root / "facts.parquet")).createOrReplaceTempView("facts")
            spark.read.parquet(str(spark_root / "dims.parquet")).createOrReplaceTempView("dims")
            spark.sql(sql).write.mode("overwrite").parquet(str(spark_root / "base_out"))

        ours()
        base()
        _report(f"spark  {name}", *_alternate(ours, base, reps))


# -- J4 / J5 ------------------------------------------------------------------------------


def _table_job(rows: int, reps: int, alias: str) -> None:
    """J4 on one database: our append (COPY on PostgreSQL, executemany elsewhere) vs the
    hand-written loop the spec names for that database, then bulk_create."""
    import polars as pl
    from django.db import connections, transaction

    from loom_django.etl import ETLParams, ETLStep, IntoTable
    from loom_django.etl.runner import ETLRunner
    from tests.testapp.models import Publisher

    connection = connections[alias]
    frame = pl.DataFrame({"name": [f"publisher {i}" for i in range(rows)]})
    batch = 10_000

    def execute(self: Any, params: Any) -> pl.LazyFrame:
        return frame.lazy()

    step = types.new_class(
        "Load",
        (ETLStep[ETLParams],),
        exec_body=lambda d: d.update(
            target=IntoTable(Publisher).using(alias).append(), execute=execute
        ),
    )
    pipe = _pipeline(step)
    runner = ETLRunner()

    def clear() -> None:
        with connection.cursor() as cursor:
            cursor.execute('DELETE FROM "legacy_publishers"')

    def ours() -> None:
        runner.run(pipe, ETLParams())

    def executemany() -> None:
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            sql = 'INSERT INTO "legacy_publishers" ("name") VALUES (%s)'
            for start in range(0, rows, batch):
                cursor.executemany(sql, frame.slice(start, batch).rows())

    def copy() -> None:
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            sql = 'COPY "legacy_publishers" ("name") FROM STDIN (FORMAT csv)'
            with cursor.cursor.copy(sql) as out:
                for start in range(0, rows, batch):
                    out.write(frame.slice(start, batch).write_csv(include_header=False))

    vendor = connection.vendor
    base, label = (copy, "COPY loop") if vendor == "postgresql" else (executemany, "executemany")
    for fn in (ours, base):
        fn()
        clear()
    o, b = _alternate(ours, base, reps, clear)
    _report(f"J4 {vendor} append {rows} rows vs {label}", o, b)

    def bulk() -> None:
        Publisher.objects.using(alias).bulk_create(
            [Publisher(name=n) for n in frame["name"].to_list()], batch_size=batch
        )

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="J1,J2,J3,J4,J5", help="comma-separated job names")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--spark", action="store_true")
    parser.add_argument("--spark-rows", type=int, default=1_000_000)
    parser.add_argument("--spark-reps", type=int, default=None)
    parser.add_argument("--table-rows", type=int, default=200_000)
    parser.add_argument("--table-reps", type=int, default=7)
    parser.add_argument("--use-case-rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--postgres-url", default=None, help="also run J4 on this PostgreSQL")
    args = parser.parse_args()
    jobs = set(args.jobs.split(","))
    with tempfile.TemporaryDirectory(prefix="loom-bench-etl-") as tmp:
        root = Path(tmp)
        _configure(args.database_url or f"sqlite:///{root / 'bench.sqlite3'}", args.postgres_url)
        if jobs & {"J1", "J2", "J3"}:
            _generate(root, args.rows)
            print(
                f"J1-J3 on {args.rows} rows, {args.reps} alternating repetitions, medians",
                flush=True,
            )
            _polars_jobs(root, args.reps)
            if args.spark:
                _spark_jobs(root, args.spark_rows, args.spark_reps or args.reps)
        if "J4" in jobs:
            _table_job(args.table_rows, args.table_reps, "default")
            if args.postgres_url:
                _table_job(args.table_rows, args.table_reps, "pg")
        if "J5" in jobs:
            _use_case_job(args.use_case_rows)


if __name__ == "__main__":
    main()
