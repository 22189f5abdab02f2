"""URLconf serving a dedicated admin site (with Product registered) for the admin tests."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from loom_django.admin import register
from tests.testapp.models import Product

site = admin.AdminSite(name="loom_test_admin")
register(Product, site=site)

urlpatterns = [path("admin/", site.urls)]
