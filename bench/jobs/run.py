"""Jobs throughput: loom jobs through JobService vs the same work as a plain Celery task.

One worker (``celery -A bench.jobs.celery_app worker``, prefork, results in the Django
database) serves both targets in the same run, on the same Redis broker and queue:

    loom    job_service.dispatch(ItemSummaryJob, params={"item_id": i})
            (a loom job: LoadById in a transaction, PENDING row at send, result stored)
    celery  item_summary.delay(i)
            (a @shared_task doing the same ORM read and returning the same string)

Each measurement dispatches ``--jobs`` jobs as fast as the dispatcher can and stops the
clock when the last one is stored as SUCCESS; jobs/s = jobs / elapsed. Targets alternate
for ``--rounds`` rounds and the best round of each is reported (damps noise from other
load on the machine), followed by the ratio loom/celery.

    python bench/jobs/run.py [--jobs 2000] [--rounds 3] [--concurrency 2]

``LOOM_BENCH_JOBS_LOGLEVEL=INFO`` keeps the worker's per-task log (``succeeded in``) in
``/tmp/loom-bench-jobs-<run>.log`` for a per-task comparison.

Needs PostgreSQL (``LOOM_BENCH_DATABASE_URL``, default postgres://postgres@127.0.0.1:5432/postgres;
a temporary database is created and dropped) and Redis (``LOOM_BENCH_REDIS_URL``, default
redis://127.0.0.1:6379/12; keys live under a prefix unique to the run and are deleted).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RUN_ID = uuid.uuid4().hex[:8]
ITEMS = 100


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000, help="jobs per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per target")
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool size")
    parser.add_argument("--pool", default="prefork", help="worker pool (prefork, solo, threads)")
    return parser.parse_args()


def _database(admin_url: str) -> tuple[str, Callable[[], None]]:
    import psycopg

    name = f"loom_bench_jobs_{RUN_ID}"
    base, _, _ = admin_url.rpartition("/")
    dsn = admin_url.replace("postgres://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{base}/{name}", drop


def _forget_keys(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


def _start_worker(env: dict[str, str], args: argparse.Namespace, logfile: Path) -> Any:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bench.jobs.celery_app",
            "worker",
            "-Q",
            "bench",
            f"--pool={args.pool}",
            f"--concurrency={args.concurrency}",
            "-l",
            os.environ.get("LOOM_BENCH_JOBS_LOGLEVEL", "WARNING"),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--logfile={logfile}",
            "-n",
            f"bench-{RUN_ID}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _measure(dispatch: Callable[[int], Any], task_name: str, jobs: int) -> float:
    from django.db import connection
    from django_celery_results.models import TaskResult

    TaskResult.objects.all().delete()
    started = time.perf_counter()
    for i in range(jobs):
        dispatch(i % ITEMS + 1)
    while True:
        done = TaskResult.objects.filter(task_name=task_name, status="SUCCESS").count()
        if done >= jobs:
            break
        failed = TaskResult.objects.filter(task_name=task_name, status="FAILURE").count()
        if failed:
            raise RuntimeError(f"{failed} {task_name} tasks failed")
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    connection.close()
    return jobs / elapsed


def main() -> None:
    args = _args()
    admin_url = os.environ.get(
        "LOOM_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
    )
    redis_url = os.environ.get("LOOM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    prefix = f"loombench-{RUN_ID}:"
    db_url, drop = _database(admin_url)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.jobs.settings",
        "LOOM_BENCH_JOBS_DATABASE_URL": db_url,
        "LOOM_BENCH_JOBS_BROKER_URL": redis_url,
        "LOOM_BENCH_JOBS_PREFIX": prefix,
        "PYTHONPATH": str(ROOT),
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    worker = None
    logfile = Path(f"/tmp/loom-bench-jobs-{RUN_ID}.log")
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", run_syncdb=True, verbosity=0)
        from bench.jobs.benchapp.jobs import ItemSummaryJob
        from bench.jobs.benchapp.models import BenchItem
        from bench.jobs.benchapp.tasks import item_summary
        from bench.jobs.celery_app import app
        from loom_django.orm import django_model_for
        from loom_django.runtime import get_runtime

        django_model_for(BenchItem)._default_manager.bulk_create(
            [django_model_for(BenchItem)(name=f"item-{i}", stock=i) for i in range(ITEMS)]
        )
        service = get_runtime().job_service
        targets: dict[str, tuple[Callable[[int], Any], str]] = {
            "loom": (
                lambda i: service.dispatch(ItemSummaryJob, params={"item_id": i}),
                "loom.job.ItemSummaryJob",
            ),
            "celery": (lambda i: item_summary.delay(i), "bench.item_summary"),
        }
        worker = _start_worker(env, args, logfile)
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5, destination=[f"bench-{RUN_ID}@{os.uname()[1]}"]):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{logfile.read_text()}")
        for dispatch, task in targets.values():
            _measure(dispatch, task, 100)
        best: dict[str, float] = dict.fromkeys(targets, 0.0)
        print(f"{args.jobs} jobs per run, {args.rounds} rounds, {args.pool} x{args.concurrency}")
        for round_no in range(args.rounds):
            order = list(targets) if round_no % 2 == 0 else list(reversed(targets))
            for name in order:
                dispatch, task = targets[name]
                rate = _measure(dispatch, task, args.jobs)
                best[name] = max(best[name], rate)
                print(f"  round {round_no + 1} {name:7s} {rate:8.1f} jobs/s", flush=True)
        print()
        print(f"{'target':8s} {'jobs/s':>10s}")
        for name, rate in best.items():
            print(f"{name:8s} {rate:10.1f}")
        print(f"ratio loom/celery = {best['loom'] / best['celery']:.3f}")
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        from django.db import connections

        connections.close_all()
        drop()
        _forget_keys(redis_url, prefix)
        if os.environ.get("LOOM_BENCH_JOBS_LOGLEVEL") is None:
            logfile.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
