"""The job status route as a plain Django view, for projects that do not serve the ninja API."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from loom_django.celery.status import job_status_response

__all__ = ["job_status_view"]


@transaction.non_atomic_requests
@require_GET
def job_status_view(request: HttpRequest, job_id: str) -> HttpResponse:
    """``GET <prefix>/<job_id>``: the JSON status of one job (see ``status``)."""
    return job_status_response(job_id)
