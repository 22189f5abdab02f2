"""REST routes of the jobs tests (not discovered: the tests build their API from these)."""

from __future__ import annotations

from loom_django.rest.model import RestInterface, RestRoute
from tests.jobsapp import use_cases as uc
from tests.testapp.models import Product


class JobsTestInterface(RestInterface[Product]):
    prefix = "/products"
    tags = ("JobsTest",)
    routes = (
        RestRoute(
            use_case=uc.DispatchRestockUseCase,
            method="POST",
            path="/{product_id}/jobs/restock-email",
            status_code=202,
        ),
        RestRoute(
            use_case=uc.WriteAndDispatchUseCase, method="POST", path="/records", status_code=202
        ),
        RestRoute(use_case=uc.ReadOnlyDispatchUseCase, method="GET", path="/records/{name}/count"),
    )
