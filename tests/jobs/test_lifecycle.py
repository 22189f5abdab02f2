"""One job lifecycle (core/job/lifecycle.py): both JobServices validate, report and refuse alike."""

from __future__ import annotations

import pytest

from loom_django.core.engine.events import EventKind
from loom_django.core.job.service import InlineJobService
from loom_django.core.tracing import reset_trace_id, set_trace_id
from loom_django.runtime import build_django_runtime
from tests.jobsapp.callbacks import RecordingCallback
from tests.jobsapp.jobs import EchoJob

pytestmark = pytest.mark.django_db(transaction=True)


class Recorder:
    def __init__(self) -> None:
        self.events = []

    def on_event(self, event) -> None:
        self.events.append(event)


class NotACallback:
    pass


@pytest.fixture
def inline(settings) -> InlineJobService:
    settings.LOOM = {"CONFIG": {"app": {"jobs": {"backend": "inline"}}}}
    runtime = build_django_runtime()
    return InlineJobService(runtime.factory, runtime.executor, Recorder())


@pytest.fixture(params=["inline", "celery"])
def service(request, settings):
    if request.param == "inline":
        return request.getfixturevalue("inline")
    return request.getfixturevalue("memory_broker").service


def test_both_services_refuse_group_callbacks(service):
    for options in ({"on_all_success": RecordingCallback}, {"on_any_failure": RecordingCallback}):
        with pytest.raises(NotImplementedError, match="Group callbacks"):
            service.dispatch_parallel([(EchoJob, {})], **options)


def test_both_services_refuse_a_class_that_is_not_a_callback(service):
    with pytest.raises(TypeError, match="is not a job callback class"):
        service.dispatch(EchoJob, params={"value": 1}, on_success=NotACallback)


def test_inline_reports_the_trace_id_and_the_duration_like_celery(inline):
    token = set_trace_id("4b3f00000000000000000000000000bb")
    try:
        inline._executor._metrics = recorder = Recorder()
        assert inline.dispatch(EchoJob, params={"value": 3}).wait() == {"value": 3}
    finally:
        reset_trace_id(token)
    jobs = [e for e in recorder.events if e.kind.name.startswith("JOB_")]
    assert [e.kind for e in jobs] == [EventKind.JOB_STARTED, EventKind.JOB_SUCCEEDED]
    assert {e.trace_id for e in jobs} == {"4b3f00000000000000000000000000bb"}
    assert jobs[-1].duration_ms is not None
