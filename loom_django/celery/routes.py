"""The job status route as a django-ninja router, mounted on the loom API at ``/jobs``.

``mount_job_status(api)`` honours ``app.jobs.status_route`` (``enabled``, ``path``,
``auth``) and mounts nothing when the process's JobService keeps no status (inline).
"""

from __future__ import annotations

from typing import Any

import msgspec
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from ninja import Router
from ninja.constants import NOT_SET

from loom_django.celery.config import jobs_settings
from loom_django.celery.results import JobStatus
from loom_django.celery.status import job_status_response

__all__ = ["job_status_router", "mount_job_status"]

_SCHEMAS, _COMPONENTS = msgspec.json.schema_components(
    (JobStatus,), ref_template="#/components/schemas/{name}"
)


def job_status_router(*, auth: Any = NOT_SET, service: Any = None) -> Router:
    """A router with ``GET /{job_id}`` (tag ``Jobs``); ``service`` defaults to the runtime's."""
    router = Router(tags=["Jobs"], auth=auth)

    def job_status(request: HttpRequest, job_id: str) -> HttpResponse:
        return job_status_response(job_id, service)

    router.add_api_operation(
        "/{job_id}",
        ["GET"],
        job_status,
        response={200: None},
        operation_id="job_status",
        summary="Job status",
        description="State, result or error and timestamps of a dispatched job.",
        openapi_extra={
            "responses": {
                "200": {
                    "description": "The job's status",
                    "content": {"application/json": {"schema": _SCHEMAS[0]}},
                },
                "404": {"description": "No job with this id"},
                "422": {"description": "The id is not a UUID"},
            }
        },
    )
    return router


def _auth(value: Any) -> Any:
    if value is None:
        return NOT_SET
    if value is False or (isinstance(value, str) and value.lower() in ("none", "public")):
        return None
    if isinstance(value, str):
        target = import_string(value)
        return target() if isinstance(target, type) else target
    return value


def _config_of(runtime: Any) -> Any:
    from loom_django.core.config import ConfigContext

    container = getattr(runtime, "container", None)
    if container is None or not container.is_registered(ConfigContext):
        return None
    return container.resolve(ConfigContext).config


def mount_job_status(api: Any, runtime: Any = None) -> bool:
    """Add the status router to a NinjaAPI per ``app.jobs.status_route``; True if mounted."""
    if runtime is None:
        from loom_django.celery.integration import runtime as process_runtime

        runtime = process_runtime()
    route = jobs_settings(_config_of(runtime)).status_route
    if not route.enabled or not callable(getattr(runtime.job_service, "status", None)):
        return False
    components = getattr(api, "_loom_components", None)
    if isinstance(components, dict):
        components.update(_COMPONENTS)
    router = job_status_router(auth=_auth(route.auth), service=runtime.job_service)
    api.add_router(route.path.rstrip("/") or "/jobs", router)
    return True
