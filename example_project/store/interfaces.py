"""REST interfaces of the store: the URLs of the seed demo (jobs are added by the Celery door)."""

from __future__ import annotations

from loom_django.rest.autocrud import build_auto_routes
from loom_django.rest.model import PaginationMode, RestInterface, RestRoute
from store import use_cases as uc
from store.models import Address, Order, OrderItem, Product, User

__all__ = [
    "AddressRestInterface",
    "OrderItemRestInterface",
    "OrderRestInterface",
    "ProductRestInterface",
    "UserRestInterface",
]


class UserRestInterface(RestInterface[User]):
    prefix = "/users"
    tags = ("Users",)
    routes = (
        RestRoute(
            use_case=uc.CreateUserUseCase,
            method="POST",
            path="/",
            status_code=201,
            summary="Create user",
        ),
        *build_auto_routes(User, ("list",)),
        RestRoute(use_case=uc.GetUserUseCase, method="GET", path="/{user_id}"),
        RestRoute(use_case=uc.UpdateUserUseCase, method="PATCH", path="/{user_id}"),
        RestRoute(use_case=uc.DeleteUserUseCase, method="DELETE", path="/{user_id}"),
    )


class AddressRestInterface(RestInterface[Address]):
    prefix = "/users"
    tags = ("UserAddresses",)
    routes = (
        RestRoute(
            use_case=uc.CreateAddressUseCase,
            method="POST",
            path="/{user_id}/addresses/",
            status_code=201,
        ),
        RestRoute(use_case=uc.ListAddressesUseCase, method="GET", path="/{user_id}/addresses/"),
        RestRoute(
            use_case=uc.GetAddressUseCase, method="GET", path="/{user_id}/addresses/{address_id}"
        ),
        RestRoute(
            use_case=uc.UpdateAddressUseCase,
            method="PATCH",
            path="/{user_id}/addresses/{address_id}",
        ),
        RestRoute(
            use_case=uc.DeleteAddressUseCase,
            method="DELETE",
            path="/{user_id}/addresses/{address_id}",
        ),
    )


# -- job routes (Celery door) -----------------------------------------------------------

PRODUCT_JOB_ROUTES = (
    RestRoute(
        use_case=uc.SyncProductsToErpUseCase,
        method="POST",
        path="/jobs/sync-erp",
        status_code=202,
        summary="Sync products to the ERP",
    ),
    RestRoute(
        use_case=uc.BuildProductSummaryUseCase,
        method="GET",
        path="/{product_id}/jobs/summary",
        summary="Build a product summary",
    ),
    RestRoute(
        use_case=uc.DispatchRestockEmailUseCase,
        method="POST",
        path="/{product_id}/jobs/restock-email",
        status_code=202,
        summary="Dispatch restock email job",
    ),
    RestRoute(
        use_case=uc.RestockWorkflowUseCase,
        method="POST",
        path="/{product_id}/workflows/restock",
        status_code=202,
        summary="Run restock workflow",
    ),
)


class ProductRestInterface(RestInterface[Product]):
    prefix = "/products"
    tags = ("Products",)
    pagination_mode = PaginationMode.CURSOR
    routes = (
        RestRoute(
            use_case=uc.ListLowStockProductsUseCase,
            method="GET",
            path="/low-stock",
            summary="List low stock products",
        ),
        RestRoute(
            use_case=uc.PricingPreviewUseCase,
            method="POST",
            path="/{product_id}/pricing-preview",
            summary="Preview pricing",
        ),
        *PRODUCT_JOB_ROUTES,
        *build_auto_routes(Product, ()),
    )


class OrderRestInterface(RestInterface[Order]):
    prefix = "/orders"
    tags = ("Orders",)
    routes = (
        RestRoute(use_case=uc.CreateOrderUseCase, method="POST", path="/", status_code=201),
        *build_auto_routes(Order, ("list",)),
        RestRoute(use_case=uc.GetOrderUseCase, method="GET", path="/{order_id}"),
        RestRoute(use_case=uc.UpdateOrderUseCase, method="PATCH", path="/{order_id}"),
        RestRoute(use_case=uc.DeleteOrderUseCase, method="DELETE", path="/{order_id}"),
    )


class OrderItemRestInterface(RestInterface[OrderItem]):
    prefix = "/order-items"
    tags = ("OrderItems",)
    routes = (
        RestRoute(use_case=uc.CreateOrderItemUseCase, method="POST", path="/", status_code=201),
        *build_auto_routes(OrderItem, ("list",)),
        RestRoute(use_case=uc.GetOrderItemUseCase, method="GET", path="/{order_item_id}"),
        RestRoute(use_case=uc.UpdateOrderItemUseCase, method="PATCH", path="/{order_item_id}"),
        RestRoute(use_case=uc.DeleteOrderItemUseCase, method="DELETE", path="/{order_item_id}"),
    )
