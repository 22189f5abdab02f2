"""Task registration on any Celery app, worker bootstrap from YAML, the inline backend (AC 29)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from celery import Celery, states

from loom_django.celery import bootstrap_worker, create_app, register_tasks
from loom_django.celery.names import TaskCatalog
from loom_django.core.errors import ConfigError
from loom_django.core.job.service import InlineJobService
from loom_django.orm import django_model_for
from loom_django.runtime import build_django_runtime, reset_runtime
from tests.jobs.support import build_celery_runtime
from tests.jobsapp.callbacks import RecordingCallback
from tests.jobsapp.jobs import AlwaysFailsJob, EchoJob
from tests.jobsapp.models import CallbackLog
from tests.jobsapp.use_cases import WriteAndDispatchUseCase

EXPECTED = {
    "loom.job.EchoJob",
    "loom.job.RestockEmailJob",
    "loom.callback.RecordingCallback",
    "loom.callback_error.RecordingCallback",
    "loom.callback.CategoryCallback",
    "loom.callback_error.CategoryCallback",
}


def test_tasks_reach_apps_whatever_the_import_order(celery_settings):
    created_before = Celery("created-before", set_as_current=False)
    finalized_before = Celery("finalized-before", set_as_current=False)
    finalized_before.finalize()
    try:
        build_celery_runtime()
        created_after = Celery("created-after", set_as_current=False)
        for app in (created_before, finalized_before, created_after):
            assert EXPECTED <= set(app.tasks), app.main
        task = created_after.tasks["loom.job.EchoJob"]
        assert (task.acks_late, task.reject_on_worker_lost, task.max_retries) == (True, True, 0)
        restock = created_after.tasks["loom.job.RestockEmailJob"]
        assert restock.max_retries == 2
        assert created_after.tasks["loom.callback.RecordingCallback"].acks_late
    finally:
        reset_runtime(None)


def test_an_explicitly_bound_app_keeps_its_tasks(celery_settings):
    app = Celery("explicit", set_as_current=False)
    register_tasks(app, TaskCatalog.build([EchoJob], []), lambda: None)  # type: ignore[arg-type,return-value]
    try:
        build_celery_runtime()
        assert "loom.job.EchoJob" in app.tasks
        assert "loom.job.RestockEmailJob" not in app.tasks
    finally:
        reset_runtime(None)


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_success_callback_runs_once(eager):
    task = eager.app.tasks["loom.callback.RecordingCallback"]
    kwargs = {"job_id": "job-1", "context": {}, "trace_id": None}
    task.apply(args=({"n": 1},), kwargs=kwargs, task_id="job-1-on-success")
    eager.app.backend.store_result("job-1-on-success", None, states.SUCCESS)
    task.apply(args=({"n": 1},), kwargs=kwargs, task_id="job-1-on-success")
    rows = django_model_for(CallbackLog)._default_manager.filter(job_id="job-1")
    assert rows.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_inline_backend(settings, caplog):
    for name in list(dir(settings._wrapped)):
        if name.startswith("CELERY_"):
            delattr(settings, name)
    settings.LOOM = {"CONFIG": {"app": {"jobs": {"backend": "inline"}}}}
    runtime = build_django_runtime()
    reset_runtime(runtime)
    try:
        service = runtime.job_service
        assert isinstance(service, InlineJobService)
        job_id = runtime.invoke_sync(WriteAndDispatchUseCase, payload={"name": "inline"})
        assert service._results[job_id] == (True, 1)
        assert service.dispatch(EchoJob, params={"value": 8}).wait() == {"value": 8}
        with caplog.at_level(logging.ERROR, logger="loom_django.jobs"):
            failing = service.dispatch(AlwaysFailsJob)
        assert any(failing.job_id in r.getMessage() and r.exc_info for r in caplog.records)
    finally:
        reset_runtime(None)


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "worker.yaml"
    path.write_text(text)
    return path


WORKER_YAML = """
app:
  name: store-worker
  discovery:
    mode: modules
    modules:
      include: [tests.jobsapp.jobs, tests.jobsapp.callbacks, tests.jobsapp.use_cases]
celery:
  broker_url: memory://
  task_always_eager: true
  queues: [default, notifications]
jobs:
  EchoJob:
    retries: 4
"""


def test_bootstrap_worker_from_yaml(tmp_path, monkeypatch):
    monkeypatch.setattr(EchoJob, "__retries__", EchoJob.__retries__)
    result = bootstrap_worker(_yaml(tmp_path, WORKER_YAML))
    app = result.celery_app
    assert app.main == "store-worker"
    assert app.conf.task_always_eager is True
    assert [q.name for q in app.conf.task_queues] == ["default", "notifications"]
    assert app.conf.result_backend == "django-db"
    assert EXPECTED <= set(app.tasks)
    assert app.tasks["loom.job.EchoJob"].max_retries == 4
    assert result.runtime.job_service.celery_app is app
    assert result.factory is result.runtime.factory


@pytest.mark.django_db(transaction=True)
def test_create_app_runs_jobs(tmp_path, monkeypatch):
    monkeypatch.setattr(EchoJob, "__retries__", EchoJob.__retries__)
    app = create_app(_yaml(tmp_path, WORKER_YAML), jobs=[EchoJob], callbacks=[RecordingCallback])
    outcome = app.tasks["loom.job.EchoJob"].apply(kwargs={"params": {"value": 6}})
    assert outcome.get() == {"value": 6}


def test_bootstrap_worker_errors(tmp_path):
    with pytest.raises(ConfigError, match="celery"):
        bootstrap_worker(_yaml(tmp_path, "app: {name: x}\n"))
    with pytest.raises(RuntimeError, match="No jobs provided and no app.discovery"):
        bootstrap_worker(_yaml(tmp_path, "celery: {broker_url: 'memory://'}\n"))
    with pytest.raises(RuntimeError, match="No Job classes discovered"):
        bootstrap_worker(
            _yaml(
                tmp_path,
                "celery: {broker_url: 'memory://'}\n"
                "app: {discovery: {mode: modules, modules: {include: [tests.jobsapp.models]}}}\n",
            )
        )
    with pytest.raises(ValueError, match="interfaces"):
        bootstrap_worker(
            _yaml(
                tmp_path,
                "celery: {broker_url: 'memory://'}\napp: {discovery: {mode: interfaces}}\n",
            )
        )
    with pytest.raises(ValueError, match="is not declared in queues"):
        bootstrap_worker(
            _yaml(
                tmp_path,
                "celery: {broker_url: 'memory://', queues: [a], task_default_queue: b}\n",
            ),
            jobs=[EchoJob],
        )
