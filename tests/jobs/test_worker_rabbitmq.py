"""Real ``celery worker`` processes on RabbitMQ: callbacks, retries, a killed worker."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loom_django.core.errors import JobFailedError
from loom_django.orm import django_model_for
from tests.jobs.conftest import RABBITMQ_URL, broker_runtime
from tests.jobs.support import wait_for
from tests.jobs.workers import Broker, worker
from tests.jobsapp.callbacks import CategoryCallback, RecordingCallback
from tests.jobsapp.jobs import AlwaysFailsJob, RestockEmailJob, SleepJob
from tests.jobsapp.models import CallbackLog
from tests.testapp.models import Product

pytestmark = [
    pytest.mark.slow,
    pytest.mark.rabbitmq,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


@dataclass
class Rabbit:
    broker: Broker
    default: str
    notifications: str

    @property
    def queues(self) -> str:
        return f"{self.default},{self.notifications}"


@pytest.fixture
def rabbit() -> Iterator[Rabbit]:
    """RabbitMQ with queue names unique to this test (deleted afterwards)."""
    prefix = f"loomtest-{uuid.uuid4().hex[:10]}"
    setup = Rabbit(
        Broker(RABBITMQ_URL, default_queue=f"{prefix}-default"),
        f"{prefix}-default",
        f"{prefix}-notifications",
    )
    yield setup
    with setup.broker.app().connection_for_write() as conn:
        channel = conn.default_channel
        for name in (setup.default, setup.notifications):
            try:
                channel.queue_delete(name)
            except Exception:
                pass


def _logs(job_id: str) -> list[tuple[str, dict[str, Any]]]:
    rows = django_model_for(CallbackLog)._default_manager.filter(job_id=job_id).order_by("id")
    return [(row.kind, json.loads(row.detail)) for row in rows]


def test_jobs_callbacks_and_retries_on_rabbitmq(settings, tmp_path, test_db_name, rabbit):
    product = django_model_for(Product)._default_manager.create(
        sku=f"SKU-{uuid.uuid4().hex[:8]}", name="Saw", category="tools", price_cents=5, stock=0
    )
    with (
        broker_runtime(settings, rabbit.broker) as jobs,
        worker(tmp_path, db_name=test_db_name, broker=rabbit.broker, queues=rabbit.queues),
    ):
        ok = jobs.service.dispatch(
            RestockEmailJob,
            params={"product_id": product.id},
            payload={"product_id": product.id, "recipient_email": "a@b.c"},
            on_success=CategoryCallback,
            queue=rabbit.notifications,
        )
        failing = jobs.service.dispatch(
            AlwaysFailsJob, on_failure=RecordingCallback, queue=rabbit.notifications
        )
        assert ok.wait(timeout=30) is True
        with pytest.raises(JobFailedError, match="always fails"):
            failing.wait(timeout=30)
        wait_for(lambda: _logs(ok.job_id) and _logs(failing.job_id))
    product.refresh_from_db()
    assert product.category == "tools-restock-notified"
    assert [kind for kind, _ in _logs(failing.job_id)] == ["failure"]
    assert jobs.events.kinds("AlwaysFailsJob") == ["job_dispatched"]


def test_a_job_of_a_killed_worker_completes_on_another_worker(
    settings, tmp_path, test_db_name, rabbit
):
    queues = rabbit.queues
    marks: Path = tmp_path / "marks"
    with broker_runtime(settings, rabbit.broker) as jobs:
        with worker(
            tmp_path, db_name=test_db_name, broker=rabbit.broker, queues=queues, concurrency=1
        ) as first:
            handle = jobs.service.dispatch(
                SleepJob,
                params={"seconds": 2, "marks": str(marks)},
                on_success=RecordingCallback,
                queue=rabbit.notifications,
            )
            wait_for(lambda: marks.exists())
            first.kill()
        with worker(tmp_path, db_name=test_db_name, broker=rabbit.broker, queues=queues):
            assert handle.wait(timeout=30) == "slept"
            wait_for(lambda: _logs(handle.job_id))
    steps = [line.split()[1:] for line in marks.read_text().splitlines()]
    assert [what for _, what in steps] == ["start", "start", "done"]
    assert steps[0][0] != steps[1][0]
    assert [kind for kind, _ in _logs(handle.job_id)] == ["success"]
