"""Job status: PENDING rows at send time, the status route, JobService.status (AC 22)."""

from __future__ import annotations

import json
import types
import uuid

import pytest
from django.test import Client
from django.urls import clear_url_caches, include, path

from tests.jobsapp.jobs import AlwaysFailsJob, EchoJob

pytestmark = pytest.mark.django_db(transaction=True)

KEYS = {
    "jobId",
    "job",
    "taskName",
    "status",
    "result",
    "error",
    "dateCreated",
    "dateStarted",
    "dateDone",
}


def test_a_sent_job_is_pending_until_a_worker_runs_it(memory_broker, serve):
    client = serve(memory_broker.runtime)
    handle = memory_broker.service.dispatch(EchoJob, payload={"secret": "hunter2"})
    response = client.get(f"/jobs/{handle.job_id}")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert set(body) == KEYS
    assert body["jobId"] == handle.job_id
    assert (body["job"], body["taskName"]) == ("EchoJob", "loom.job.EchoJob")
    assert (body["status"], body["result"], body["error"], body["dateDone"]) == (
        "PENDING",
        None,
        None,
        None,
    )
    assert body["dateCreated"].endswith("Z")
    assert "hunter2" not in response.content.decode()


def test_success_and_failure(eager, serve):
    client = serve(eager.runtime)
    ok = eager.service.dispatch(EchoJob, params={"value": 9}, payload={"secret": "hunter2"})
    body = json.loads(client.get(f"/jobs/{ok.job_id}").content)
    assert (body["status"], body["result"], body["error"]) == ("SUCCESS", {"value": 9}, None)
    assert body["dateDone"] is not None
    assert "hunter2" not in json.dumps(body)
    bad = eager.service.dispatch(AlwaysFailsJob)
    body = json.loads(client.get(f"/jobs/{bad.job_id}").content)
    assert (body["status"], body["result"]) == ("FAILURE", None)
    assert body["error"] == {"type": "RuntimeError", "message": "always fails"}


def test_the_traceback_is_never_in_the_api_response_even_in_debug(eager, serve, settings):
    client = serve(eager.runtime)
    bad = eager.service.dispatch(AlwaysFailsJob)
    settings.DEBUG = True
    response = client.get(f"/jobs/{bad.job_id}")
    error = json.loads(response.content)["error"]
    assert error == {"type": "RuntimeError", "message": "always fails"}
    assert b"Traceback" not in response.content


def test_the_traceback_stays_readable_in_process(eager):
    from loom_django.celery.results import read_job_status

    bad = eager.service.dispatch(AlwaysFailsJob)
    status = read_job_status(eager.service.celery_app, bad.job_id, with_traceback=True)
    assert "RuntimeError: always fails" in status.error.traceback


def test_a_stored_result_the_app_does_not_accept_is_a_clean_error(eager, serve):
    import pickle

    from django_celery_results.models import TaskResult

    client = serve(eager.runtime)
    ok = eager.service.dispatch(EchoJob, params={"value": 1})
    TaskResult.objects.filter(task_id=ok.job_id).update(
        content_type="application/x-python-serialize",
        content_encoding="binary",
        result=__import__("base64").b64encode(pickle.dumps({"value": 1})).decode(),
    )
    response = client.get(f"/jobs/{ok.job_id}")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["result"] is None
    assert body["error"]["type"] == "ResultDecodeError"
    assert "application/x-python-serialize" in body["error"]["message"]


def test_post_and_head_on_the_status_route(eager, serve):
    client = serve(eager.runtime)
    ok = eager.service.dispatch(EchoJob, params={"value": 1})
    response = client.post(f"/jobs/{ok.job_id}", {}, content_type="application/json")
    assert response.status_code == 405
    assert json.loads(response.content)["detail"]["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, HEAD"
    head = client.head(f"/jobs/{ok.job_id}")
    assert head.status_code == 200
    assert head.content == b""


def test_unknown_and_malformed_ids(eager, serve):
    client = serve(eager.runtime)
    missing = str(uuid.uuid4())
    response = client.get(f"/jobs/{missing}", HTTP_X_REQUEST_ID="trace-404")
    assert response.status_code == 404
    assert json.loads(response.content) == {
        "detail": {
            "code": "not_found",
            "message": f"Job with id='{missing}' not found",
            "trace_id": "trace-404",
            "entity": "Job",
            "id": missing,
        }
    }
    response = client.get("/jobs/not-a-uuid")
    assert response.status_code == 422
    detail = json.loads(response.content)["detail"]
    assert detail["code"] == "validation_error"
    assert detail["violations"] == [{"field": "job_id", "message": "job_id must be a UUID"}]


def test_status_programmatically(eager):
    handle = eager.service.dispatch(EchoJob, params={"value": 1})
    status = eager.service.status(handle.job_id)
    assert (status.job_id, status.status, status.result) == (handle.job_id, "SUCCESS", {"value": 1})
    assert eager.service.status(str(uuid.uuid4())) is None


def test_the_route_is_documented(eager, serve):
    client = serve(eager.runtime)
    schema = json.loads(client.get("/openapi.json").content)
    operation = schema["paths"]["/jobs/{job_id}"]["get"]
    assert operation["tags"] == ["Jobs"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/JobStatus"
    assert "jobId" in schema["components"]["schemas"]["JobStatus"]["properties"]


def test_the_route_follows_its_settings(celery_settings, serve):
    from tests.jobs.conftest import celery_runtime

    celery_settings.LOOM = {
        "CONFIG": {"app": {"jobs": {"status_route": {"path": "/tasks/status"}}}}
    }
    with celery_runtime(celery_settings) as runtime:
        client = serve(runtime.runtime)
        handle = runtime.service.dispatch(EchoJob)
        assert client.get(f"/tasks/status/{handle.job_id}").status_code == 200
        assert client.get(f"/jobs/{handle.job_id}").status_code == 404
    celery_settings.LOOM = {"CONFIG": {"app": {"jobs": {"status_route": {"enabled": False}}}}}
    with celery_runtime(celery_settings) as runtime:
        client = serve(runtime.runtime)
        assert client.get(f"/tasks/status/{handle.job_id}").status_code == 404


def test_no_route_without_a_status_backend(serve, settings):
    from loom_django.runtime import get_runtime, reset_runtime

    reset_runtime(None)
    client = serve(get_runtime())
    assert client.get(f"/jobs/{uuid.uuid4()}").status_code == 404
    assert "/jobs/{job_id}" not in json.loads(client.get("/openapi.json").content)["paths"]


def test_the_plain_django_view(eager, settings):
    module = types.ModuleType("jobs_plain_urls")
    module.urlpatterns = [path("jobs/", include("loom_django.celery.urls"))]  # type: ignore[attr-defined]
    settings.ROOT_URLCONF = module
    clear_url_caches()
    try:
        handle = eager.service.dispatch(EchoJob, params={"value": 3})
        client = Client()
        body = json.loads(client.get(f"/jobs/{handle.job_id}").content)
        assert (body["status"], body["result"]) == ("SUCCESS", {"value": 3})
        assert client.get(f"/jobs/{uuid.uuid4()}").status_code == 404
        assert client.get("/jobs/nope").status_code == 422
        assert client.post(f"/jobs/{handle.job_id}").status_code == 405
    finally:
        clear_url_caches()


def test_the_admin_filters_loom_jobs(eager, settings, django_user_model):
    from django.contrib import admin

    from tests.jobsapp.callbacks import RecordingCallback

    module = types.ModuleType("jobs_admin_urls")
    module.urlpatterns = [path("admin/", admin.site.urls)]  # type: ignore[attr-defined]
    settings.ROOT_URLCONF = module
    clear_url_caches()
    try:
        handle = eager.app.tasks["loom.callback.RecordingCallback"]
        job = eager.service.dispatch(EchoJob, on_success=RecordingCallback)
        handle.apply(args=(None,), kwargs={"job_id": "x"}, task_id="callback-row")
        client = Client()
        client.force_login(django_user_model.objects.create_superuser("root", "r@x.io", "pw"))
        url = "/admin/django_celery_results/taskresult/"
        jobs = client.get(url, {"loom": "jobs"}).content.decode()
        callbacks = client.get(url, {"loom": "callbacks"}).content.decode()
        assert job.job_id in jobs and "callback-row" not in jobs
        assert "callback-row" in callbacks and job.job_id not in callbacks
        assert "loom task" in jobs
    finally:
        clear_url_caches()
