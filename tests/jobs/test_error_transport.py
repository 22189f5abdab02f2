"""Every loom error crosses pickle and Celery's JSON exception transport unchanged
(issue 10 item 11): same type, message and fields."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from celery import Celery

from loom_django.core.errors import (
    BadRequest,
    Conflict,
    DomainError,
    FilterPathError,
    Forbidden,
    JobFailedError,
    JobTimeoutError,
    LoomError,
    MissingDependency,
    NotFound,
    ParameterBindingError,
    RuleViolation,
    RuleViolations,
    SystemError,
    UnsafeFilterError,
    ValidationError,
)
from loom_django.rest.errors import QueryParamError, RequestTooLarge, UnsupportedMediaType
from loom_django.rest.ninja.csrf import CsrfFailed
from loom_django.rest.ninja.security import NotAuthenticated, PermissionDeniedError

ERRORS: list[BaseException] = [
    LoomError("custom", code="custom_code"),
    DomainError("domain", code="conflict"),
    SystemError("disk on fire"),
    NotFound("User", id=7),
    NotFound("Job", id="3f0c"),
    Forbidden(),
    Forbidden("not yours"),
    Conflict("A record with these values already exists (sku)."),
    BadRequest("bad cursor"),
    RuleViolation("email", "email must be valid"),
    RuleViolations([RuleViolation("a", "x"), RuleViolation("b", "y")]),
    ValidationError([("price", "must be positive"), ("name", "required")]),
    ValidationError([("$", "bad")], "custom summary"),
    ParameterBindingError("invalid value for 'id'", param="id"),
    JobTimeoutError("job-1", 2.5),
    JobTimeoutError("job-2"),
    JobFailedError("job-3", "ValueError: boom"),
    FilterPathError("owner.name"),
    UnsafeFilterError("secret"),
    MissingDependency("polars", extra="etl"),
    QueryParamError("direction must be 'ASC' or 'DESC'.", param="direction"),
    RequestTooLarge(1024),
    UnsupportedMediaType("text/plain"),
    NotAuthenticated(),
    PermissionDeniedError(),
    CsrfFailed("CSRF cookie not set."),
]
FIELDS = (
    "message",
    "code",
    "entity",
    "id",
    "field",
    "violations",
    "param",
    "job_id",
    "timeout",
    "cause",
    "path",
    "package",
    "extra",
    "limit",
    "content_type",
    "reason",
)


def _state(exc: BaseException) -> tuple[Any, ...]:
    fields = tuple((name, getattr(exc, name, None)) for name in FIELDS)
    status = getattr(exc, "status_code", None)
    return (type(exc), str(exc), exc.args, status, fields)


def _ids(exc: BaseException) -> str:
    return f"{type(exc).__name__}-{str(exc)[:20]}"


@pytest.mark.parametrize("exc", ERRORS, ids=_ids)
def test_pickle_round_trip_keeps_type_message_and_fields(exc):
    assert _state(pickle.loads(pickle.dumps(exc))) == _state(exc)


@pytest.mark.parametrize("exc", ERRORS, ids=_ids)
def test_celery_json_transport_keeps_type_message_and_fields(exc):
    app = Celery("transport", set_as_current=False)
    app.conf.result_serializer = "json"
    app.conf.result_backend = "cache+memory://"
    backend = app.backend
    stored = backend.decode(backend.encode(backend.prepare_exception(exc, "json")))
    assert _state(backend.exception_to_python(stored)) == _state(exc)


@pytest.mark.parametrize("exc", ERRORS, ids=_ids)
def test_celery_pickle_transport_keeps_type_message_and_fields(exc):
    app = Celery("transport", set_as_current=False)
    app.conf.result_serializer = "pickle"
    app.conf.accept_content = ["pickle", "json"]
    app.conf.result_accept_content = ["pickle", "json"]
    app.conf.result_backend = "cache+memory://"
    backend = app.backend
    stored = backend.decode(backend.encode(backend.prepare_exception(exc, "pickle")))
    assert _state(backend.exception_to_python(stored)) == _state(exc)


def test_eager_results_survive_concurrent_request_threads():
    import sys
    import threading

    from celery.result import EagerResult

    from loom_django.celery import service as module

    jobs = module.CeleryJobService(Celery("eager", set_as_current=False))
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def hammer(worker: int) -> None:
        start.wait()
        try:
            for n in range(3000):
                job_id = f"{worker}-{n}"
                jobs._remember_eager(job_id, EagerResult(job_id, n, "SUCCESS"))
        except BaseException as exc:  # collected: any race is a failure
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=hammer, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert len(jobs._eager_results) == module._EAGER_RESULTS_KEPT
