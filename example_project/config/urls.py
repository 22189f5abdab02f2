"""URLs of the example store."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from loom_django.rest.ninja import get_api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", get_api().urls),
]
