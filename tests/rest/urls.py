"""URLconf of the REST tests: the discovered interfaces at the root and under ``api/``."""

from __future__ import annotations

from django.urls import include, path

from loom_django.rest.ninja import get_api

urlpatterns = [
    path("api/", include((get_api().urls[0], "loom-api"))),
    path("", get_api().urls),
]
