"""``path("jobs/", include("loom_django.celery.urls"))`` serves ``GET jobs/<job_id>``."""

from __future__ import annotations

from django.urls import path

from loom_django.celery.views import job_status_view

__all__ = ["app_name", "urlpatterns"]

app_name = "loom_jobs"
urlpatterns = [path("<str:job_id>", job_status_view, name="job_status")]
