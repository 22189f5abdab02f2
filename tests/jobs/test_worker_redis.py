"""Real ``celery worker`` processes on Redis (AC 5, 10, 11, 15, 18, 20, 22, 23, 26-28)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from typing import Any

import pytest
from django.db import connection

from loom_django.core.errors import JobFailedError, JobTimeoutError
from loom_django.core.tracing import reset_trace_id, set_trace_id
from loom_django.orm import django_model_for
from tests.jobs.support import wait_for
from tests.jobs.workers import celery, worker
from tests.jobsapp.callbacks import CategoryCallback, LoggingCallback, RecordingCallback
from tests.jobsapp.jobs import (
    AlwaysFailsJob,
    EchoJob,
    LoggingJob,
    ParentJob,
    ProductSummaryJob,
    RestockEmailJob,
    SleepJob,
    SlowJob,
    StructResultJob,
)
from tests.jobsapp.models import CallbackLog
from tests.jobsapp.use_cases import WriteAndDispatchUseCase
from tests.testapp.models import Product

pytestmark = [
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def _product(stock: int = 0, category: str = "tools") -> Any:
    return django_model_for(Product)._default_manager.create(
        sku=f"SKU-{uuid.uuid4().hex[:8]}",
        name="Drill",
        category=category,
        price_cents=1999,
        stock=stock,
    )


def _logs(job_id: str) -> list[tuple[str, dict[str, Any]]]:
    rows = django_model_for(CallbackLog)._default_manager.filter(job_id=job_id).order_by("id")
    return [(row.kind, json.loads(row.detail)) for row in rows]


def _finished(service: Any, job_id: str) -> Any:
    status = service.status(job_id)
    return status if status is not None and status.status in ("SUCCESS", "FAILURE") else None


def test_a_job_and_its_callback_run_on_the_worker(on_redis):
    product = _product(stock=0)
    handle = on_redis.service.dispatch(
        RestockEmailJob,
        params={"product_id": product.id},
        payload={"product_id": product.id, "recipient_email": "ops@example.com"},
        on_success=CategoryCallback,
        on_failure=CategoryCallback,
    )
    assert handle.wait(timeout=30) is True
    status = on_redis.service.status(handle.job_id)
    assert (status.status, status.result, status.job) == ("SUCCESS", True, "RestockEmailJob")
    assert status.date_started is not None and status.date_done >= status.date_started
    wait_for(lambda: _logs(handle.job_id))
    product.refresh_from_db()
    assert product.category == "tools-restock-notified"
    assert _logs(handle.job_id) == [
        ("-restock-notified", {"atomic_get": True, "atomic_update": True})
    ]


def test_retries_back_off_and_the_failure_callback_runs_once(on_redis, tmp_path):
    marks = tmp_path / "attempts"
    handle = on_redis.service.dispatch(
        AlwaysFailsJob, params={"marks": str(marks)}, on_failure=RecordingCallback
    )
    with pytest.raises(JobFailedError, match="always fails"):
        handle.wait(timeout=30)
    times = [float(line.split()[0]) for line in marks.read_text().splitlines()]
    assert len(times) == 3
    first, second = times[1] - times[0], times[2] - times[1]
    assert 0.9 <= first < 2.5, first
    assert 1.9 <= second < 4.5, second
    wait_for(lambda: _logs(handle.job_id))
    time.sleep(0.5)
    assert _logs(handle.job_id) == [
        ("failure", {"exc_type": "RuntimeError", "exc_msg": "always fails", "context": {}})
    ]
    status = on_redis.service.status(handle.job_id)
    assert status.error.type == "RuntimeError"


def test_domain_errors_fail_at_once(on_redis):
    started = time.monotonic()
    handle = on_redis.service.dispatch(
        ProductSummaryJob, params={"product_id": 424242}, on_failure=RecordingCallback
    )
    status = wait_for(lambda: _finished(on_redis.service, handle.job_id), timeout=30)
    assert time.monotonic() - started < 5
    assert (status.status, status.error.type) == ("FAILURE", "NotFound")
    wait_for(lambda: _logs(handle.job_id))
    assert [(k, d["exc_type"]) for k, d in _logs(handle.job_id)] == [("failure", "NotFound")]


def test_the_worker_sees_what_the_request_committed(on_redis):
    job_id = on_redis.runtime.invoke_sync(WriteAndDispatchUseCase, payload={"name": "seen"})
    assert wait_for(lambda: _finished(on_redis.service, job_id)).result == 1


def test_a_job_dispatches_another_after_its_commit(on_redis):
    parent = on_redis.service.dispatch(ParentJob, params={"name": "lineage"})
    child_id = parent.wait(timeout=30)
    assert wait_for(lambda: _finished(on_redis.service, child_id), timeout=30).result == 1


def test_struct_results_are_stored_as_json(on_redis):
    handle = on_redis.service.dispatch(StructResultJob, params={"name": "grace hopper"})
    assert handle.wait(timeout=30) == {"recordId": 7, "displayName": "Grace Hopper"}


def test_wait_times_out_then_returns(on_redis):
    handle = on_redis.service.dispatch(SleepJob, params={"seconds": 1.5})
    with pytest.raises(JobTimeoutError):
        handle.wait(timeout=0.2)
    assert asyncio.run(handle.wait_async(timeout=30)) == "slept"


def test_the_soft_time_limit_stops_an_attempt(on_redis):
    started = time.monotonic()
    handle = on_redis.service.dispatch(SlowJob, params={"seconds": 5})
    status = wait_for(lambda: _finished(on_redis.service, handle.job_id), timeout=30)
    assert time.monotonic() - started < 4.5
    assert (status.status, status.error.type) == ("FAILURE", "SoftTimeLimitExceeded")


def test_trace_ids_reach_the_worker_logs(on_redis, redis_worker):
    trace = uuid.uuid4().hex
    token = set_trace_id(trace)
    try:
        handle = on_redis.service.dispatch(
            LoggingJob, params={"text": "ping"}, on_success=LoggingCallback
        )
    finally:
        reset_trace_id(token)
    handle.wait(timeout=30)

    def traced_lines() -> list[str]:
        return [line for line in redis_worker.log().splitlines() if f"trace={trace}" in line]

    wait_for(lambda: any("logging callback success" in line for line in traced_lines()))
    joined = "\n".join(traced_lines())
    assert "logging job says ping" in joined
    assert f"logging callback success for {handle.job_id}" in joined


def test_the_worker_registers_every_loom_task(redis_worker):
    out = celery(
        "inspect",
        "registered",
        "-j",
        "-t",
        "10",
        "-d",
        f"{redis_worker.name}@{socket.gethostname()}",
        env=redis_worker.env,
    )
    (names,) = json.loads(out).values()
    assert {
        "loom.job.RestockEmailJob",
        "loom.job.EchoJob",
        "loom.callback.RecordingCallback",
        "loom.callback_error.RecordingCallback",
        "loom.callback.CategoryCallback",
        "loom.callback_error.CategoryCallback",
    } <= set(names)


def _worker_connections(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [name])
        return int(cursor.fetchone()[0])


def test_connections_are_closed_after_each_task(settings, tmp_path, test_db_name, redis_broker):
    from tests.jobs.conftest import broker_runtime

    with (
        worker(
            tmp_path,
            db_name=test_db_name,
            broker=redis_broker,
            pool="solo",
            concurrency=1,
            queues="solo-conn",
            extra_env={"LOOM_TEST_NO_DJANGO_FIXUP": "1"},
        ) as running,
        broker_runtime(settings, redis_broker) as jobs,
    ):
        handle = jobs.service.dispatch(EchoJob, params={"value": 1}, queue="solo-conn")
        assert handle.wait(timeout=30) == {"value": 1}
        wait_for(lambda: _worker_connections(running.name) == 0, timeout=10)


def test_stale_connections_are_replaced_before_a_task(
    settings, tmp_path, test_db_name, redis_broker
):
    from tests.jobs.conftest import broker_runtime

    with (
        worker(
            tmp_path,
            db_name=test_db_name,
            broker=redis_broker,
            pool="solo",
            concurrency=1,
            queues="solo-stale",
            extra_env={"LOOM_TEST_NO_DJANGO_FIXUP": "1", "LOOM_WORKER_CONN_MAX_AGE": "600"},
        ) as running,
        broker_runtime(settings, redis_broker) as jobs,
    ):
        first = jobs.service.dispatch(EchoJob, params={"value": 1}, queue="solo-stale")
        assert first.wait(timeout=30) == {"value": 1}
        assert _worker_connections(running.name) == 1
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                [running.name],
            )
        wait_for(lambda: _worker_connections(running.name) == 0, timeout=10)
        second = jobs.service.dispatch(EchoJob, params={"value": 2}, queue="solo-stale")
        assert second.wait(timeout=30) == {"value": 2}
        assert jobs.service.status(second.job_id).status == "SUCCESS"


def test_a_worker_whose_runtime_fails_does_not_start(tmp_path, test_db_name, redis_broker):
    with (
        pytest.raises(AssertionError, match="worker exited") as info,
        worker(
            tmp_path,
            db_name=test_db_name,
            broker=redis_broker,
            queues="never",
            extra_env={"LOOM_WORKER_BROKEN_CONFIG": "1"},
        ),
    ):
        pass
    assert "is not declared in queues" in str(info.value)
