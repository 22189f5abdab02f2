"""Dispatch: handles, after-commit sending, message format, broker outages (AC 3, 5-9, 19)."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from loom_django.core.errors import Conflict
from loom_django.core.job.handle import JobGroup
from loom_django.core.tracing import reset_trace_id, set_trace_id
from loom_django.orm import django_model_for
from loom_django.testing import captured_dispatches
from tests.jobs.support import published
from tests.jobsapp.callbacks import RecordingCallback
from tests.jobsapp.jobs import CountRecordsJob, EchoJob, RestockEmailJob
from tests.jobsapp.models import JobRecord
from tests.jobsapp.use_cases import (
    NestedDispatchUseCase,
    ReadOnlyDispatchUseCase,
    WriteAndDispatchUseCase,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _records(name: str) -> int:
    return django_model_for(JobRecord)._default_manager.filter(name=name).count()


def test_dispatch_returns_a_handle_with_a_uuid4_and_the_queue(memory_broker):
    service = memory_broker.service
    before = datetime.now(UTC)
    with published() as messages:
        handle = service.dispatch(
            RestockEmailJob, params={"product_id": 7}, payload={"recipient_email": "a@b.c"}
        )
        routed = service.dispatch(
            RestockEmailJob,
            params={"product_id": 7},
            payload={"recipient_email": "a@b.c"},
            queue="erp",
        )
    assert uuid.UUID(handle.job_id).version == 4
    assert str(uuid.UUID(handle.job_id)) == handle.job_id
    assert handle.queue == "notifications"
    assert handle.dispatched_at >= before
    assert routed.queue == "erp"
    assert [m["routing_key"] for m in messages] == ["notifications", "erp"]


def test_published_message_format(memory_broker):
    token = set_trace_id("4b3f00000000000000000000000000aa")
    try:
        with published() as messages:
            handle = memory_broker.service.dispatch(
                RestockEmailJob,
                params={"product_id": 7},
                payload={"product_id": 7, "recipient_email": "a@b.c"},
                on_success=RecordingCallback,
                on_failure=RecordingCallback,
            )
    finally:
        reset_trace_id(token)
    (message,) = messages
    assert message["task"] == "loom.job.RestockEmailJob"
    assert message["id"] == handle.job_id
    assert message["kwargs"] == {
        "payload": {"product_id": 7, "recipient_email": "a@b.c"},
        "params": {"product_id": 7},
        "trace_id": "4b3f00000000000000000000000000aa",
    }
    context = {
        "job_id": handle.job_id,
        "context": {"product_id": 7, "recipient_email": "a@b.c"},
        "trace_id": "4b3f00000000000000000000000000aa",
    }
    (link,) = message["embed"]["callbacks"]
    (errback,) = message["embed"]["errbacks"]
    assert link["task"] == "loom.callback.RecordingCallback"
    assert link["kwargs"] == context
    assert link["options"]["queue"] == "default"
    assert errback["task"] == "loom.callback_error.RecordingCallback"
    assert errback["kwargs"] == context


def test_options_from_the_job_and_the_call(memory_broker, monkeypatch):
    monkeypatch.setattr(EchoJob, "__timeout__", 30)
    monkeypatch.setattr(EchoJob, "__priority__", 5)
    with published() as messages:
        memory_broker.service.dispatch(EchoJob, countdown=60)
        memory_broker.service.dispatch(EchoJob, priority=9, eta=datetime(2031, 1, 1, tzinfo=UTC))
    first, second = (m["headers"] for m in messages)
    assert first["timelimit"] == [None, 30]
    assert first["eta"] is not None
    assert messages[0]["headers"]["id"] != messages[1]["headers"]["id"]
    assert second["eta"].startswith("2031-01-01")


def test_a_failing_use_case_sends_nothing(memory_broker):
    with published() as messages, pytest.raises(Conflict):
        memory_broker.runtime.invoke_sync(
            WriteAndDispatchUseCase, payload={"name": "rolled-back", "fail": True}
        )
    assert messages == []
    assert _records("rolled-back") == 0


def test_a_successful_use_case_sends_once_after_its_commit(memory_broker):
    seen_at_publish: list[tuple[bool, int]] = []

    def check(*args, **kwargs):
        seen_at_publish.append((connection.in_atomic_block, _records("committed")))

    from celery import signals

    signals.before_task_publish.connect(check, weak=False)
    try:
        with published() as messages:
            job_id = memory_broker.runtime.invoke_sync(
                WriteAndDispatchUseCase, payload={"name": "committed"}
            )
    finally:
        signals.before_task_publish.disconnect(check)
    assert [m["id"] for m in messages] == [job_id]
    assert seen_at_publish == [(False, 1)]


def test_the_job_reads_the_rows_the_use_case_wrote(eager):
    job_id = eager.runtime.invoke_sync(WriteAndDispatchUseCase, payload={"name": "visible"})
    assert eager.service.status(job_id).result == 1


def test_a_nested_dispatch_waits_for_the_outer_commit(memory_broker):
    with published() as messages, pytest.raises(Conflict):
        memory_broker.runtime.invoke_sync(
            NestedDispatchUseCase, payload={"name": "nested-fail", "fail_outer": True}
        )
    assert messages == []
    assert _records("nested-fail") == 0
    with published() as messages:
        job_id = memory_broker.runtime.invoke_sync(
            NestedDispatchUseCase, payload={"name": "nested-ok"}
        )
    assert [m["id"] for m in messages] == [job_id]


def test_a_dispatch_without_a_transaction_is_sent_immediately(memory_broker):
    with published() as messages:
        job_id = memory_broker.runtime.invoke_sync(ReadOnlyDispatchUseCase, params={"name": "x"})
        assert [m["id"] for m in messages] == [job_id]


def test_a_get_route_dispatch_is_sent_immediately(memory_broker, serve):
    client = serve(memory_broker.runtime)
    with published() as messages:
        response = client.get("/products/records/some-name/count")
    assert response.status_code == 200
    assert [m["id"] for m in messages] == [json.loads(response.content)]


def test_a_user_atomic_block_defers_the_send_until_it_commits(memory_broker):
    with published() as messages:
        with transaction.atomic():
            memory_broker.service.dispatch(EchoJob)
            with pytest.raises(RuntimeError), transaction.atomic():
                memory_broker.service.dispatch(EchoJob)
                raise RuntimeError("savepoint rolls back")
            assert messages == []
        assert len(messages) == 1


def test_dispatches_are_sent_in_dispatch_order(memory_broker):
    with published() as messages, transaction.atomic():
        ids = [
            memory_broker.service.dispatch(EchoJob, params={"value": i}).job_id for i in range(5)
        ]
    assert [m["id"] for m in messages] == ids


def test_dispatch_rejects_bad_arguments_at_once(memory_broker):
    service = memory_broker.service
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        service.dispatch(EchoJob, payload={"when": object()})
    with pytest.raises(ValueError, match="reserved"):
        service.dispatch(EchoJob, payload={"job_id": "mine"})
    with pytest.raises(TypeError, match="not a Job subclass"):
        service.dispatch(RecordingCallback)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a job callback class"):
        service.dispatch(EchoJob, on_success=EchoJob)

    class Undiscovered(EchoJob):
        pass

    with pytest.raises(ValueError, match="not a discovered job"):
        service.dispatch(Undiscovered)


def test_captured_dispatches_are_not_sent(memory_broker):
    with published() as messages, captured_dispatches() as captured:
        handle = memory_broker.service.dispatch(EchoJob, params={"value": 2}, queue="erp")
    assert messages == []
    assert [(c.job_type, c.job_id, c.params, c.queue) for c in captured] == [
        (EchoJob, handle.job_id, {"value": 2}, "erp")
    ]


def test_dispatch_parallel(memory_broker):
    service = memory_broker.service
    with published() as messages:
        group = service.dispatch_parallel([(EchoJob, {}), (CountRecordsJob, {}, {"name": "n"})])
    assert isinstance(group, JobGroup)
    assert [h.job_id for h in group.handles] == [m["id"] for m in messages]
    assert messages[1]["kwargs"]["params"] == {"name": "n"}
    with pytest.raises(NotImplementedError):
        service.dispatch_parallel([(EchoJob, {})], on_all_success=RecordingCallback)
    with pytest.raises(NotImplementedError):
        service.dispatch_parallel([(EchoJob, {})], on_any_failure=RecordingCallback)
    with pytest.raises(NotImplementedError):
        group.then(EchoJob)


def test_a_broker_outage_after_commit_is_logged_and_recorded(
    memory_broker, settings, serve, caplog
):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    from celery import Celery

    from loom_django.celery import bind_celery_app

    down = Celery("broker-down", set_as_current=False)
    down.config_from_object("django.conf:settings", namespace="CELERY")
    down.conf.broker_connection_timeout = 1
    bind_celery_app(down)
    client = serve(memory_broker.runtime)
    with caplog.at_level(logging.ERROR, logger="loom_django.jobs"):
        response = client.post(
            "/products/records", data={"name": "kept"}, content_type="application/json"
        )
    assert response.status_code == 202
    job_id = json.loads(response.content)
    assert _records("kept") == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and job_id in r.getMessage()]
    assert errors and "loom.job.CountRecordsJob" in errors[0].getMessage()
    status = client.get(f"/jobs/{job_id}")
    assert status.status_code == 200
    body = json.loads(status.content)
    assert body["status"] == "FAILURE"
    assert body["error"]["type"] == "DispatchError"


def test_a_service_without_engine_cannot_run_jobs(memory_broker):
    import asyncio

    from loom_django.celery import CeleryJobService

    bare = CeleryJobService(memory_broker.app)
    with pytest.raises(NotImplementedError, match="requires factory and executor"):
        asyncio.run(bare.run(EchoJob))
    with published() as messages:
        handle = bare.dispatch(EchoJob, params={"value": 1})
    assert [m["task"] for m in messages] == ["loom.job.EchoJob"]
    assert handle.queue == "default"
