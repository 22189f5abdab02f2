"""No job lost: SIGKILL mid-job, the job runs again and completes, its callback runs once."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from loom_django.orm import django_model_for
from tests.jobs.conftest import REDIS_URL, broker_runtime, forget_redis_prefix
from tests.jobs.support import wait_for
from tests.jobs.workers import Broker, worker
from tests.jobsapp.callbacks import RecordingCallback
from tests.jobsapp.jobs import SleepJob
from tests.jobsapp.models import CallbackLog

pytestmark = [
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def _marks(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    return [(line.split()[1], line.split()[2]) for line in path.read_text().splitlines()]


def _callbacks(job_id: str) -> list[tuple[str, Any]]:
    rows = django_model_for(CallbackLog)._default_manager.filter(job_id=job_id)
    return [(row.kind, json.loads(row.detail)["result"]) for row in rows]


def test_a_job_of_a_killed_worker_completes_on_another_worker(
    settings, tmp_path, test_db_name, request
):
    prefix = f"loomkill-{uuid.uuid4().hex[:10]}:"
    broker = Broker(
        REDIS_URL,
        {
            "global_keyprefix": prefix,
            "visibility_timeout": 4,
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        },
    )
    marks = tmp_path / "marks"
    request.addfinalizer(lambda: forget_redis_prefix(prefix))
    with broker_runtime(settings, broker) as jobs:
        with worker(tmp_path, db_name=test_db_name, broker=broker, concurrency=1) as first:
            handle = jobs.service.dispatch(
                SleepJob, params={"seconds": 3, "marks": str(marks)}, on_success=RecordingCallback
            )
            wait_for(lambda: _marks(marks))
            first.kill()
        assert jobs.service.status(handle.job_id).status == "STARTED"
        with worker(tmp_path, db_name=test_db_name, broker=broker, concurrency=1):
            assert handle.wait(timeout=45) == "slept"
            wait_for(lambda: _callbacks(handle.job_id))
            wait_for(lambda: len(_marks(marks)) >= 3)
    (killed, _), (rerun, _), done = _marks(marks)
    assert killed != rerun
    assert done == (rerun, "done")
    assert _callbacks(handle.job_id) == [("success", "slept")]


def test_a_killed_pool_process_requeues_its_job(settings, tmp_path, test_db_name, redis_broker):
    marks = tmp_path / "marks"
    with (
        broker_runtime(settings, redis_broker) as jobs,
        worker(
            tmp_path,
            db_name=test_db_name,
            broker=redis_broker,
            concurrency=1,
            queues="lost,default",
        ) as running,
    ):
        handle = jobs.service.dispatch(
            SleepJob,
            params={"seconds": 2, "marks": str(marks)},
            on_success=RecordingCallback,
            queue="lost",
        )
        wait_for(lambda: _marks(marks))
        import os
        import signal

        (child,) = running.children()
        os.kill(child, signal.SIGKILL)
        assert handle.wait(timeout=30) == "slept"
        wait_for(lambda: _callbacks(handle.job_id), timeout=10)
    assert [what for _, what in _marks(marks)] == ["start", "start", "done"]
    assert _callbacks(handle.job_id) == [("success", "slept")]
