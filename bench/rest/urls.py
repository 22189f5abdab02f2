"""URLs of the benchmark: ``api/`` (loom), ``ninja/`` (hand-written), ``drf/`` (DRF)."""

from __future__ import annotations

from django.urls import include, path

from bench.rest import drf_views, ninja_views
from loom_django.rest.ninja import get_api

urlpatterns = [
    path("ninja/", ninja_views.api.urls),
    path("drf/", include(drf_views.router.urls)),
    path("api/", get_api().urls),
]
