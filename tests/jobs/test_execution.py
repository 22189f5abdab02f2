"""Running jobs eagerly: retries, callbacks, results, transactions, timeouts (AC 10-21, 26)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import pytest
from celery import signals
from celery.exceptions import SoftTimeLimitExceeded

from loom_django.core.errors import JobFailedError, JobTimeoutError, NotFound
from loom_django.orm import django_model_for
from tests.jobs.support import published
from tests.jobsapp.callbacks import (
    AsyncRecordingCallback,
    CategoryCallback,
    LoggingCallback,
    RecordingCallback,
)
from tests.jobsapp.jobs import (
    AlwaysFailsJob,
    ChildJob,
    EchoJob,
    ParentJob,
    ProductSummaryJob,
    RecordThenFailJob,
    RestockEmailJob,
    SlowJob,
    StructResultJob,
)
from tests.jobsapp.models import CallbackLog, JobRecord
from tests.testapp.models import Product

pytestmark = pytest.mark.django_db(transaction=True)


def _product(stock: int = 0, category: str = "tools") -> Any:
    model = django_model_for(Product)._default_manager
    return model.create(
        sku=f"SKU-{time.monotonic_ns()}",
        name="Drill",
        category=category,
        price_cents=1999,
        stock=stock,
    )


def _logs(job_id: str) -> list[tuple[str, dict[str, Any]]]:
    rows = django_model_for(CallbackLog)._default_manager.filter(job_id=job_id).order_by("id")
    return [(row.kind, json.loads(row.detail)) for row in rows]


def _records(name: str) -> int:
    return django_model_for(JobRecord)._default_manager.filter(name=name).count()


@pytest.fixture
def retries() -> Any:
    seen: list[Any] = []

    def record(sender: Any = None, reason: Any = None, **kwargs: Any) -> None:
        seen.append(reason.when)

    signals.task_retry.connect(record, weak=False)
    yield seen
    signals.task_retry.disconnect(record)


def test_retries_with_backoff_then_one_failure_callback(eager, retries):
    handle = eager.service.dispatch(AlwaysFailsJob, on_failure=RecordingCallback)
    assert retries == [1, 2]
    assert eager.events.kinds("AlwaysFailsJob") == [
        "job_dispatched",
        "job_started",
        "exec_start",
        "exec_error",
        "job_retrying",
        "job_started",
        "exec_start",
        "exec_error",
        "job_retrying",
        "job_started",
        "exec_start",
        "exec_error",
        "job_exhausted",
    ]
    assert eager.service.status(handle.job_id).status == "FAILURE"
    assert _logs(handle.job_id) == [
        ("failure", {"exc_type": "RuntimeError", "exc_msg": "always fails", "context": {}})
    ]


def test_domain_errors_are_not_retried(eager, retries):
    handle = eager.service.dispatch(
        ProductSummaryJob, params={"product_id": 987654}, on_failure=RecordingCallback
    )
    assert ProductSummaryJob.__retries__ == 3
    assert retries == []
    assert eager.events.kinds("ProductSummaryJob") == [
        "job_dispatched",
        "job_started",
        "exec_start",
        "exec_error",
        "job_exhausted",
    ]
    ((kind, detail),) = _logs(handle.job_id)
    assert (kind, detail["exc_type"]) == ("failure", "NotFound")
    assert detail["exc_msg"] == "Product with id=987654 not found"


def test_success_callback_gets_id_result_and_payload_but_not_params(eager):
    product = _product(stock=0)
    handle = eager.service.dispatch(
        RestockEmailJob,
        params={"product_id": product.id},
        payload={"recipient_email": "ops@example.com", "ticket": 12},
        on_success=RecordingCallback,
        on_failure=RecordingCallback,
    )
    assert _logs(handle.job_id) == [
        (
            "success",
            {
                "result": True,
                "context": {"recipient_email": "ops@example.com", "ticket": 12},
                "atomic": True,
            },
        )
    ]


def test_callbacks_use_the_invoker_in_one_transaction(eager):
    product = _product(stock=0, category="tools")
    handle = eager.service.dispatch(
        RestockEmailJob,
        params={"product_id": product.id},
        payload={"product_id": product.id, "recipient_email": "a@b.c"},
        on_success=CategoryCallback,
    )
    product.refresh_from_db()
    assert product.category == "tools-restock-notified"
    assert _logs(handle.job_id) == [
        ("-restock-notified", {"atomic_get": True, "atomic_update": True})
    ]
    eager.service.dispatch(
        RestockEmailJob,
        params={"product_id": product.id},
        payload={"product_id": product.id, "recipient_email": "a@b.c"},
        on_success=CategoryCallback,
    )
    product.refresh_from_db()
    assert product.category == "tools-restock-notified"


def test_failure_callback_of_the_seed(eager):
    product = _product(stock=0, category="tools")
    eager.service.dispatch(
        RestockEmailJob,
        params={"product_id": product.id},
        payload={"product_id": product.id, "recipient_email": "a@b.c", "force_fail": True},
        on_success=CategoryCallback,
        on_failure=CategoryCallback,
    )
    product.refresh_from_db()
    assert product.category == "tools-restock-failed"


@pytest.mark.parametrize(
    ("callback", "ok", "failed"),
    [
        (RecordingCallback, "success", "failure"),
        (AsyncRecordingCallback, "async-success", "async-failure"),
    ],
)
def test_sync_and_async_callbacks(eager, callback, ok, failed):
    good = eager.service.dispatch(EchoJob, params={"value": 4}, on_success=callback)
    bad = eager.service.dispatch(AlwaysFailsJob, on_failure=callback, on_success=callback)
    assert _logs(good.job_id)[0][0] == ok
    assert _logs(good.job_id)[0][1]["result"] == {"value": 4}
    assert [kind for kind, _ in _logs(bad.job_id)] == [failed]


def test_a_failing_callback_is_logged_and_changes_nothing(eager, caplog, monkeypatch):
    def boom(self: Any, job_id: str, result: Any, **context: Any) -> None:
        raise RuntimeError("callback broke")

    monkeypatch.setattr(RecordingCallback, "on_success", boom)
    with caplog.at_level(logging.ERROR, logger="loom_django.jobs"):
        handle = eager.service.dispatch(
            EchoJob, on_success=RecordingCallback, on_failure=RecordingCallback
        )
    assert eager.service.status(handle.job_id).status == "SUCCESS"
    assert _logs(handle.job_id) == []
    assert any(handle.job_id in r.getMessage() for r in caplog.records)
    assert eager.events.kinds("EchoJob").count("job_started") == 1


def test_struct_results_are_stored_and_passed_in_camel_case(eager):
    handle = eager.service.dispatch(
        StructResultJob, params={"name": "ada lovelace"}, on_success=RecordingCallback
    )
    expected = {"recordId": 7, "displayName": "Ada Lovelace"}
    status = eager.service.status(handle.job_id)
    assert (status.status, status.result) == ("SUCCESS", expected)
    assert _logs(handle.job_id)[0][1]["result"] == expected
    assert handle.wait(1) == expected


@pytest.fixture
def close_offload_connections() -> Any:
    """``run`` hops to asgiref's executor thread; close its connection afterwards."""
    yield
    from asgiref.sync import sync_to_async
    from django.db import connections

    asyncio.run(sync_to_async(connections.close_all, thread_sensitive=True)())


def test_run_executes_in_process_without_broker_or_callbacks(eager, close_offload_connections):
    product = _product(stock=3)
    with published() as messages:
        summary = asyncio.run(
            eager.service.run(ProductSummaryJob, params={"product_id": product.id})
        )
        assert summary == f"{product.sku} (Drill) is in stock."
        with pytest.raises(NotFound):
            asyncio.run(eager.service.run(ProductSummaryJob, params={"product_id": 999999}))
    assert messages == []
    assert django_model_for(CallbackLog)._default_manager.count() == 0


def test_a_job_and_its_invocations_share_one_transaction(eager, retries):
    failed = eager.service.dispatch(RecordThenFailJob, params={"name": "gone", "fail_times": 9})
    assert eager.service.status(failed.job_id).status == "FAILURE"
    assert _records("gone") == 0
    retried = eager.service.dispatch(RecordThenFailJob, params={"name": "once", "fail_times": 1})
    assert eager.service.status(retried.job_id).result == 1
    assert _records("once") == 1


def test_a_job_dispatches_after_its_own_commit(eager):
    parent = eager.service.dispatch(ParentJob, params={"name": "family"})
    child_id = eager.service.status(parent.job_id).result
    assert eager.service.status(child_id).result == 1
    from django_celery_results.models import TaskResult

    eager.service.dispatch(ParentJob, params={"name": "orphan", "fail": True})
    children = TaskResult.objects.filter(task_name="loom.job.ChildJob")
    assert [row.task_id for row in children] == [child_id]
    assert _records("orphan") == 0
    assert ChildJob.__qualname__ == "ChildJob"


def test_wait_returns_results_and_raises_failures(eager):
    assert eager.service.dispatch(EchoJob, params={"value": 5}).wait(timeout=5) == {"value": 5}
    failing = eager.service.dispatch(AlwaysFailsJob)
    with pytest.raises(JobFailedError) as info:
        failing.wait(timeout=5)
    assert info.value.code == "job_failed"
    assert "always fails" in str(info.value)
    assert asyncio.run(eager.service.dispatch(EchoJob).wait_async(timeout=5)) == {"value": 0}


def test_wait_times_out_while_no_worker_runs_the_job(memory_broker):
    handle = memory_broker.service.dispatch(EchoJob)
    started = time.monotonic()
    with pytest.raises(JobTimeoutError) as info:
        handle.wait(timeout=0.3)
    assert info.value.code == "job_timeout"
    assert 0.25 < time.monotonic() - started < 3
    with pytest.raises(JobTimeoutError):
        asyncio.run(handle.wait_async(timeout=0.2))


def test_the_time_limit_interrupts_an_attempt(eager):
    started = time.monotonic()
    handle = eager.service.dispatch(SlowJob, params={"seconds": 5}, on_failure=RecordingCallback)
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 3
    status = eager.service.status(handle.job_id)
    assert (status.status, status.error.type) == ("FAILURE", SoftTimeLimitExceeded.__name__)
    assert eager.events.kinds("SlowJob")[-1] == "job_exhausted"
    assert _logs(handle.job_id)[0][1]["exc_type"] == "SoftTimeLimitExceeded"


def test_the_http_dispatch_runs_the_job_and_callback_before_responding(eager, serve):
    product = _product(stock=0, category="tools")
    client = serve(eager.runtime)
    response = client.post(
        f"/products/{product.id}/jobs/restock-email",
        data={"recipientEmail": "ops@example.com"},
        content_type="application/json",
    )
    assert response.status_code == 202
    body = json.loads(response.content)
    assert body["queue"] == "notifications"
    status = eager.service.status(body["jobId"])
    assert (status.status, status.result) == ("SUCCESS", True)
    product.refresh_from_db()
    assert product.category == "tools-restock-notified"
    assert [kind for kind, _ in _logs(body["jobId"])] == ["-restock-notified"]


def test_trace_ids_reach_job_and_callback_logs(eager, caplog):
    from loom_django.core.tracing import reset_trace_id, set_trace_id
    from tests.jobsapp.jobs import LoggingJob

    token = set_trace_id("feedfacefeedfacefeedfacefeedface")
    try:
        with caplog.at_level(logging.WARNING, logger="tests.jobsapp"):
            eager.service.dispatch(LoggingJob, params={"text": "hi"}, on_success=LoggingCallback)
    finally:
        reset_trace_id(token)
    lines = {r.getMessage().split(" ")[1]: r.trace_id for r in caplog.records}
    assert lines == {
        "job": "feedfacefeedfacefeedfacefeedface",
        "callback": "feedfacefeedfacefeedfacefeedface",
    }


def test_an_eager_dispatch_from_async_code_never_nests_event_loops(eager):
    async def handler() -> Any:
        handle = eager.service.dispatch(EchoJob, params={"value": 11})
        return await handle.wait_async(timeout=5)

    assert asyncio.run(handler()) == {"value": 11}
