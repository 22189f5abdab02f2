"""Interfaces the REST tests serve (discovered by the runtime in ``apps`` mode)."""

from __future__ import annotations

from typing import Any

from ninja.security import HttpBearer

from loom_django.rest.autocrud import build_auto_routes
from loom_django.rest.model import PaginationMode, RestInterface, RestRoute
from tests.restapp import use_cases as uc
from tests.restapp.models import RestCustomer, RestOrder, RestProduct


class TokenAuth(HttpBearer):
    """Accepts the bearer token ``good-token``."""

    def authenticate(self, request: Any, token: str) -> str | None:
        return token if token == "good-token" else None


def _has_header(request: Any) -> bool:
    return request.headers.get("X-Allowed") == "yes"


class ProductInterface(RestInterface[RestProduct]):
    prefix = "/products"
    tags = ("Products",)
    allowed_profiles = ("default", "with_details")
    expose_profile = True
    routes = (
        *build_auto_routes(RestProduct, ()),
        RestRoute(use_case=uc.ListLowStockUseCase, method="GET", path="/low-stock"),
        RestRoute(use_case=uc.ListBelowStockUseCase, method="GET", path="/below-stock"),
        RestRoute(use_case=uc.AcceptJobUseCase, method="POST", path="/{id}/jobs", status_code=202),
        RestRoute(
            use_case=uc.TouchProductUseCase, method="POST", path="/{id}/touch", status_code=204
        ),
        RestRoute(use_case=uc.FailingUseCase, method="GET", path="/fail/{kind}"),
        RestRoute(use_case=uc.CreateThenFailUseCase, method="POST", path="/create-then-fail"),
        RestRoute(use_case=uc.NoneResultUseCase, method="GET", path="/nothing"),
    )


class CursorProductInterface(RestInterface[RestProduct]):
    prefix = "/cursor-products"
    pagination_mode = PaginationMode.CURSOR
    auto = True
    include = ("list",)


class FixedOffsetProductInterface(RestInterface[RestProduct]):
    prefix = "/fixed-products"
    allow_pagination_override = False
    auto = True
    include = ("list",)


class ReadOnlyProductInterface(RestInterface[RestProduct]):
    prefix = "/ro-products"
    auto = True
    include = ("get", "list")


class OverrideProductInterface(RestInterface[RestProduct]):
    prefix = "/override-products"
    auto = True
    routes = (RestRoute(use_case=uc.GetProductOverrideUseCase, method="GET", path="/{id}"),)


class AllowlistProductInterface(RestInterface[RestProduct]):
    prefix = "/allowlist-products"
    auto = True
    include = ("list",)
    filterable = ("category", "stock")
    sortable = ("stock",)


class AsyncProductInterface(RestInterface[RestProduct]):
    prefix = "/async-products"
    auto = True
    handler_mode = "async"


class SecureProductInterface(RestInterface[RestProduct]):
    prefix = "/secure-products"
    auth = TokenAuth()
    routes = (
        *build_auto_routes(RestProduct, ("get", "list")),
        RestRoute(
            use_case=build_auto_routes(RestProduct, ("create",))[0].use_case,
            method="POST",
            path="/",
            status_code=201,
            permissions=(_has_header,),
        ),
        RestRoute(use_case=uc.NoneResultUseCase, method="GET", path="/public/nothing", auth=None),
    )


class CustomerInterface(RestInterface[RestCustomer]):
    prefix = "/customers"
    auto = True
    routes = (
        RestRoute(use_case=uc.CreateCustomerUseCase, method="POST", path="/", status_code=201),
        RestRoute(use_case=uc.UpdateCustomerUseCase, method="PATCH", path="/{id}"),
        RestRoute(
            use_case=uc.CreateAddressUseCase,
            method="POST",
            path="/{customer_id}/addresses/",
            status_code=201,
        ),
        RestRoute(
            use_case=uc.GetAddressIdsUseCase,
            method="GET",
            path="/{customer_id}/addresses/{address_id}",
        ),
    )


class OrderInterface(RestInterface[RestOrder]):
    prefix = "/orders"
    auto = True


class OrderItemInterface(RestInterface[Any]):
    prefix = "/order-items"
    routes = (
        RestRoute(
            use_case=uc.CreateOrderItemUnguardedUseCase, method="POST", path="/", status_code=201
        ),
        RestRoute(
            use_case=uc.CreateOrderItemGuardedUseCase,
            method="POST",
            path="/guarded",
            status_code=201,
        ),
    )


class ProductNameInterface(RestInterface[RestProduct]):
    """A list whose items hide price and stock (no sorting or filtering on them)."""

    prefix = "/product-names"
    routes = (RestRoute(use_case=uc.ListProductNamesUseCase, method="GET", path="/"),)
