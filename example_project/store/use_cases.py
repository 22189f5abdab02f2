"""Use cases of the store (seed 001): users, nested addresses, products, orders, order items.

Everything the auto-CRUD routes do not cover lives here: the business rules of users,
orders and order items, the parent guards of nested addresses, the low-stock list and
the pricing preview (computes, then rules).
"""

from __future__ import annotations

import re
from typing import Any

from loom_django.core.command import Command, Computed, Patch
from loom_django.core.errors import NotFound
from loom_django.core.job.service import JobService
from loom_django.core.repository.abc.query import (
    CursorResult,
    FilterGroup,
    FilterOp,
    FilterSpec,
    PageResult,
    PaginationMode,
    QuerySpec,
    SortSpec,
)
from loom_django.core.response import Response
from loom_django.core.use_case import Compute, Exists, F, Input, Load, LoadById, OnMissing, Rule
from loom_django.core.use_case.invoker import ApplicationInvoker
from loom_django.core.use_case.use_case import UseCase
from store.callbacks import RestockEmailFailureCallback, RestockEmailSuccessCallback
from store.jobs import BuildProductSummaryJob, SendRestockEmailJob, SyncProductToErpJob
from store.models import Address, Order, OrderItem, Product, User

__all__ = [
    "BuildProductSummaryUseCase",
    "DispatchRestockEmailUseCase",
    "RestockWorkflowUseCase",
    "SyncProductsToErpUseCase",
    "CreateAddressUseCase",
    "CreateOrderItemUseCase",
    "CreateOrderUseCase",
    "CreateProductUseCase",
    "CreateUserUseCase",
    "DeleteAddressUseCase",
    "DeleteOrderItemUseCase",
    "DeleteOrderUseCase",
    "DeleteUserUseCase",
    "GetAddressUseCase",
    "GetOrderItemUseCase",
    "GetOrderUseCase",
    "GetUserUseCase",
    "ListAddressesUseCase",
    "ListLowStockProductsUseCase",
    "PricingPreviewUseCase",
    "UpdateAddressUseCase",
    "UpdateOrderItemUseCase",
    "UpdateOrderUseCase",
    "UpdateUserUseCase",
]

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ORDER_STATUSES = frozenset({"created", "paid", "cancelled", "shipped"})
TAX_RATES = {"ES": 0.21, "FR": 0.2, "DE": 0.19}


# -- products (the ETL import runs every CSV row through these rules) -------------------

_SKU_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,63}$")


class NewProduct(Command, frozen=True):
    sku: str
    name: str
    category: str
    price_cents: int
    stock: int = 0


def _normalise_sku(sku: str) -> str:
    return sku.strip().upper()


def _sku_must_be_valid(sku: str) -> str | None:
    return None if _SKU_RE.fullmatch(sku) else "sku must be letters, digits and dashes"


def _price_must_be_positive(price_cents: int) -> str | None:
    return None if price_cents > 0 else "price_cents must be positive"


def _stock_must_not_be_negative(stock: int) -> str | None:
    return None if stock >= 0 else "stock must not be negative"


def _product_name_not_blank(name: str) -> str | None:
    return None if name.strip() else "name must not be blank"


def _sku_is_taken(cmd: NewProduct, fields_set: frozenset[str], sku_exists: bool) -> bool:
    return sku_exists


class CreateProductUseCase(UseCase[Product, Product]):
    """Create a product: upper-case sku (unique), non-blank name, positive price, stock >= 0."""

    computes = (Compute.set(F(NewProduct).sku).from_command(F(NewProduct).sku, via=_normalise_sku),)
    rules = (
        Rule.check(F(NewProduct).sku, via=_sku_must_be_valid),
        Rule.check(F(NewProduct).name, via=_product_name_not_blank),
        Rule.check(F(NewProduct).price_cents, via=_price_must_be_positive),
        Rule.check(F(NewProduct).stock, via=_stock_must_not_be_negative),
        Rule.forbid(_sku_is_taken, message="sku already exists").from_params("sku_exists"),
    )

    async def execute(
        self,
        cmd: NewProduct = Input(),
        sku_exists: bool = Exists(Product, from_command="sku", against="sku"),
    ) -> Product:
        return await self.main_repo.create(cmd)


# -- users ------------------------------------------------------------------------------


class CreateUser(Command, frozen=True):
    full_name: str
    email: str


class UpdateUser(Command, frozen=True):
    full_name: Patch[str] = None
    email: Patch[str] = None


def _name_must_not_be_blank(full_name: str) -> str | None:
    return None if full_name.strip() else "full_name must not be blank"


def _email_must_be_valid(email: str) -> str | None:
    return None if _EMAIL_RE.fullmatch(email) else "email must be valid"


def _email_is_taken(cmd: CreateUser, fields_set: frozenset[str], email_exists: bool) -> bool:
    return email_exists


def _email_taken_by_other(
    cmd: UpdateUser, fields_set: frozenset[str], current_user: User, email_owner: User | None
) -> bool:
    return email_owner is not None and email_owner.id != current_user.id


class CreateUserUseCase(UseCase[User, User]):
    """Create a user with a unique, valid email and a non-blank name."""

    rules = (
        Rule.check(F(CreateUser).full_name, via=_name_must_not_be_blank),
        Rule.check(F(CreateUser).email, via=_email_must_be_valid),
        Rule.forbid(_email_is_taken, message="email already exists").from_params("email_exists"),
    )

    async def execute(
        self,
        cmd: CreateUser = Input(),
        email_exists: bool = Exists(User, from_command="email", against="email"),
    ) -> User:
        return await self.main_repo.create(cmd)


class GetUserUseCase(UseCase[User, User]):
    """Get a user by id."""

    read_only = True

    async def execute(self, user_id: int) -> User:
        user = await self.main_repo.get_by_id(user_id)
        if user is None:
            raise NotFound("User", id=user_id)
        return user


class UpdateUserUseCase(UseCase[User, User]):
    """Partially update a user (404 first, then the create rules for the keys sent)."""

    rules = (
        Rule.check(F(UpdateUser).full_name, via=_name_must_not_be_blank).when_present(
            F(UpdateUser).full_name
        ),
        Rule.check(F(UpdateUser).email, via=_email_must_be_valid).when_present(F(UpdateUser).email),
        Rule.forbid(_email_taken_by_other, message="email already exists").from_params(
            "current_user", "email_owner"
        ),
    )

    async def execute(
        self,
        user_id: int,
        cmd: UpdateUser = Input(),
        current_user: User = LoadById(User, by="user_id"),
        email_owner: User | None = Load(
            User, from_command="email", against="email", on_missing=OnMissing.RETURN_NONE
        ),
    ) -> User:
        updated = await self.main_repo.update(user_id, cmd)
        if updated is None:
            raise NotFound("User", id=user_id)
        return updated


class DeleteUserUseCase(UseCase[User, bool]):
    """Delete a user with its addresses, orders and their items."""

    async def execute(self, user_id: int) -> bool:
        if not await self.main_repo.delete(user_id):
            raise NotFound("User", id=user_id)
        return True


# -- addresses (nested under users) ------------------------------------------------------


class CreateUserAddress(Command, frozen=True):
    label: str
    street: str
    city: str
    country: str
    zip_code: str


class UpdateAddress(Command, frozen=True):
    label: Patch[str] = None
    street: Patch[str] = None
    city: Patch[str] = None
    country: Patch[str] = None
    zip_code: Patch[str] = None


def _owned(address: Address, user_id: int, address_id: int) -> Address:
    if address.user_id != user_id:
        raise NotFound("Address", id=address_id)
    return address


class CreateAddressUseCase(UseCase[Address, Address]):
    """Add an address to an existing user (404 User otherwise)."""

    async def execute(
        self,
        user_id: int,
        cmd: CreateUserAddress = Input(),
        _user_exists: bool = Exists(
            User, from_param="user_id", against="id", on_missing=OnMissing.RAISE
        ),
    ) -> Address:
        values: dict[str, Any] = {
            "user_id": user_id,
            "label": cmd.label,
            "street": cmd.street,
            "city": cmd.city,
            "country": cmd.country,
            "zip_code": cmd.zip_code,
        }
        return await self.main_repo.create(values)


class ListAddressesUseCase(UseCase[Address, PageResult[Address] | CursorResult[Address]]):
    """List the addresses of one user (filters, sort and pagination apply within it)."""

    async def execute(
        self, user_id: int, query: QuerySpec, profile: str = "default"
    ) -> PageResult[Address] | CursorResult[Address]:
        own = FilterSpec(field="user_id", op=FilterOp.EQ, value=user_id)
        extra = query.filters.filters if query.filters is not None else ()
        scoped = QuerySpec(
            filters=FilterGroup(filters=(own, *extra)),
            sort=query.sort,
            pagination=query.pagination,
            limit=query.limit,
            page=query.page,
            cursor=query.cursor,
        )
        return await self.main_repo.list_with_query(scoped, profile=profile)


class GetAddressUseCase(UseCase[Address, Address]):
    """Get one address of a user (404 Address when missing or owned by someone else)."""

    read_only = True

    async def execute(
        self,
        user_id: int,
        address_id: int,
        address: Address = LoadById(Address, by="address_id"),
    ) -> Address:
        return _owned(address, user_id, address_id)


class UpdateAddressUseCase(UseCase[Address, Address]):
    """Partially update one address of a user."""

    async def execute(
        self,
        user_id: int,
        address_id: int,
        cmd: UpdateAddress = Input(),
        address: Address = LoadById(Address, by="address_id"),
    ) -> Address:
        _owned(address, user_id, address_id)
        updated = await self.main_repo.update(address_id, cmd)
        if updated is None:
            raise NotFound("Address", id=address_id)
        return updated


class DeleteAddressUseCase(UseCase[Address, bool]):
    """Delete one address of a user."""

    async def execute(
        self,
        user_id: int,
        address_id: int,
        address: Address = LoadById(Address, by="address_id"),
    ) -> bool:
        _owned(address, user_id, address_id)
        if not await self.main_repo.delete(address_id):
            raise NotFound("Address", id=address_id)
        return True


# -- products ---------------------------------------------------------------------------


class ListLowStockProductsUseCase(UseCase[Product, PageResult[Product]]):
    """List products with at most 5 items in stock, lowest stock first."""

    read_only = True

    async def execute(self, profile: str = "default") -> PageResult[Product]:
        query = QuerySpec(
            filters=FilterGroup(filters=(FilterSpec(field="stock", op=FilterOp.LTE, value=5),)),
            sort=(SortSpec(field="stock", direction="ASC"), SortSpec(field="id", direction="ASC")),
            pagination=PaginationMode.OFFSET,
            limit=20,
            page=1,
        )
        result = await self.main_repo.list_with_query(query, profile=profile)
        if not isinstance(result, PageResult):
            raise RuntimeError("Expected offset result")
        return result


class PricingCommand(Command, frozen=True):
    email: str
    unit_price: float
    quantity: int
    tax_rate: float
    country: str
    normalized_email: Computed[str] = None
    subtotal: Computed[float] = None
    tax_amount: Computed[float] = None


class PricingPreviewResponse(Response, frozen=True):
    product_id: int
    normalized_email: str
    subtotal: float
    tax_amount: float
    total: float


def _normalize_email(email: str) -> str:
    return email.strip().lower()


def _compute_subtotal(unit_price: float, quantity: int) -> float:
    return unit_price * quantity


def _compute_tax(subtotal: float, tax_rate: float) -> float:
    return subtotal * tax_rate


def _unit_price_invalid(unit_price: float) -> bool:
    return unit_price <= 0


def _country_unsupported(country: str) -> bool:
    return country not in TAX_RATES


class PricingPreviewUseCase(UseCase[Product, PricingPreviewResponse]):
    """Preview the price of an order line: computes first, then rules."""

    read_only = True
    computes = (
        Compute.set(F(PricingCommand).normalized_email).from_command(
            F(PricingCommand).email, via=_normalize_email
        ),
        Compute.set(F(PricingCommand).subtotal).from_command(
            F(PricingCommand).unit_price, F(PricingCommand).quantity, via=_compute_subtotal
        ),
        Compute.set(F(PricingCommand).tax_amount).from_command(
            F(PricingCommand).subtotal, F(PricingCommand).tax_rate, via=_compute_tax
        ),
    )
    rules = (
        Rule.check(
            F(PricingCommand).unit_price, via=_unit_price_invalid, message="unit_price must be > 0"
        ),
        Rule.check(
            F(PricingCommand).country, via=_country_unsupported, message="Unsupported country"
        ),
    )

    async def execute(
        self,
        product_id: int,
        cmd: PricingCommand = Input(),
        _product: bool = Exists(
            Product, from_param="product_id", against="id", on_missing=OnMissing.RAISE
        ),
    ) -> PricingPreviewResponse:
        subtotal = float(cmd.subtotal or 0.0)
        tax = float(cmd.tax_amount or 0.0)
        return PricingPreviewResponse(
            product_id=product_id,
            normalized_email=cmd.normalized_email or "",
            subtotal=subtotal,
            tax_amount=tax,
            total=subtotal + tax,
        )


# -- orders -----------------------------------------------------------------------------


class CreateOrder(Command, frozen=True):
    user_id: int
    address_id: int
    status: str = "created"
    payment_method: str = "card"


class UpdateOrder(Command, frozen=True):
    status: Patch[str] = None
    payment_method: Patch[str] = None


def _status_invalid(status: str | None) -> str | None:
    if status in ORDER_STATUSES:
        return None
    return f"status must be one of: {', '.join(sorted(ORDER_STATUSES))}"


def _address_of_user(cmd: CreateOrder, fields_set: frozenset[str], address: Address | None) -> bool:
    """404 Address unless the address exists and belongs to the order's user.

    Another user's address is reported exactly like a missing one, so ids of other
    users' addresses cannot be probed.
    """
    if address is None or address.user_id != cmd.user_id:
        raise NotFound("Address", id=cmd.address_id)
    return False


class CreateOrderUseCase(UseCase[Order, Order]):
    """Place an order for an existing user at one of *their* addresses.

    404 User, then 404 Address (missing or another user's), then the status rule.
    """

    rules = (
        Rule.forbid(_address_of_user, message="address not found").from_params("address"),
        Rule.check(F(CreateOrder).status, via=_status_invalid),
    )

    async def execute(
        self,
        cmd: CreateOrder = Input(),
        _user: bool = Exists(
            User, from_command="user_id", against="id", on_missing=OnMissing.RAISE
        ),
        address: Address | None = Load(
            Address, from_command="address_id", against="id", on_missing=OnMissing.RETURN_NONE
        ),
    ) -> Order:
        return await self.main_repo.create(cmd)


class GetOrderUseCase(UseCase[Order, Order]):
    """Get an order by id."""

    read_only = True

    async def execute(self, order_id: int) -> Order:
        order = await self.main_repo.get_by_id(order_id)
        if order is None:
            raise NotFound("Order", id=order_id)
        return order


class UpdateOrderUseCase(UseCase[Order, Order]):
    """Partially update an order (the status rule first, then 404)."""

    rules = (
        Rule.check(F(UpdateOrder).status, via=_status_invalid).when_present(F(UpdateOrder).status),
    )

    async def execute(self, order_id: int, cmd: UpdateOrder = Input()) -> Order:
        updated = await self.main_repo.update(order_id, cmd)
        if updated is None:
            raise NotFound("Order", id=order_id)
        return updated


class DeleteOrderUseCase(UseCase[Order, bool]):
    """Delete an order and its items."""

    async def execute(self, order_id: int) -> bool:
        if not await self.main_repo.delete(order_id):
            raise NotFound("Order", id=order_id)
        return True


# -- order items ------------------------------------------------------------------------


class CreateOrderItem(Command, frozen=True):
    order_id: int
    product_id: int
    quantity: int
    unit_price_cents: int


class UpdateOrderItem(Command, frozen=True):
    quantity: Patch[int] = None
    unit_price_cents: Patch[int] = None


def _quantity_invalid(quantity: int | None) -> str | None:
    return None if quantity is not None and quantity > 0 else "quantity must be greater than zero"


def _unit_price_cents_invalid(unit_price_cents: int | None) -> str | None:
    if unit_price_cents is not None and unit_price_cents >= 0:
        return None
    return "unit_price_cents must be zero or positive"


class CreateOrderItemUseCase(UseCase[OrderItem, OrderItem]):
    """Add an item to an existing order (404 Order / Product first, then the rules)."""

    rules = (
        Rule.check(F(CreateOrderItem).quantity, via=_quantity_invalid),
        Rule.check(F(CreateOrderItem).unit_price_cents, via=_unit_price_cents_invalid),
    )

    async def execute(
        self,
        cmd: CreateOrderItem = Input(),
        _order: bool = Exists(
            Order, from_command="order_id", against="id", on_missing=OnMissing.RAISE
        ),
        _product: bool = Exists(
            Product, from_command="product_id", against="id", on_missing=OnMissing.RAISE
        ),
    ) -> OrderItem:
        return await self.main_repo.create(cmd)


class GetOrderItemUseCase(UseCase[OrderItem, OrderItem]):
    """Get an order item by id."""

    read_only = True

    async def execute(self, order_item_id: int) -> OrderItem:
        item = await self.main_repo.get_by_id(order_item_id)
        if item is None:
            raise NotFound("OrderItem", id=order_item_id)
        return item


class UpdateOrderItemUseCase(UseCase[OrderItem, OrderItem]):
    """Partially update an order item (rules first, then 404)."""

    rules = (
        Rule.check(F(UpdateOrderItem).quantity, via=_quantity_invalid).when_present(
            F(UpdateOrderItem).quantity
        ),
        Rule.check(F(UpdateOrderItem).unit_price_cents, via=_unit_price_cents_invalid).when_present(
            F(UpdateOrderItem).unit_price_cents
        ),
    )

    async def execute(self, order_item_id: int, cmd: UpdateOrderItem = Input()) -> OrderItem:
        updated = await self.main_repo.update(order_item_id, cmd)
        if updated is None:
            raise NotFound("OrderItem", id=order_item_id)
        return updated


class DeleteOrderItemUseCase(UseCase[OrderItem, bool]):
    """Delete an order item."""

    async def execute(self, order_item_id: int) -> bool:
        if not await self.main_repo.delete(order_item_id):
            raise NotFound("OrderItem", id=order_item_id)
        return True


# -- jobs and workflows (Celery door) ---------------------------------------------------
# Dispatch the store's jobs (store.jobs) with the restock callbacks (store.callbacks).


class DispatchRestockEmailCommand(Command, frozen=True):
    recipient_email: str
    force_fail: bool = False


class DispatchRestockEmailResponse(Response, frozen=True):
    job_id: str
    queue: str


def _restock_email(
    jobs: JobService, product_id: int, cmd: DispatchRestockEmailCommand
) -> tuple[str, str]:
    handle = jobs.dispatch(
        SendRestockEmailJob,
        params={"product_id": product_id},
        payload={
            "product_id": product_id,
            "recipient_email": cmd.recipient_email,
            "force_fail": cmd.force_fail,
        },
        on_success=RestockEmailSuccessCallback,
        on_failure=RestockEmailFailureCallback,
    )
    return handle.job_id, handle.queue


class DispatchRestockEmailUseCase(UseCase[Product, DispatchRestockEmailResponse]):
    """Queue the restock email of an existing product (202 with the job id)."""

    def __init__(self, job_service: JobService) -> None:
        self._jobs = job_service

    async def execute(
        self,
        product_id: int,
        cmd: DispatchRestockEmailCommand = Input(),
        _product: bool = Exists(
            Product, from_param="product_id", against="id", on_missing=OnMissing.RAISE
        ),
    ) -> DispatchRestockEmailResponse:
        job_id, queue = _restock_email(self._jobs, product_id, cmd)
        return DispatchRestockEmailResponse(job_id=job_id, queue=queue)


class ProductSummaryResponse(Response, frozen=True):
    product_id: int
    summary: str


class BuildProductSummaryUseCase(UseCase[Product, ProductSummaryResponse]):
    """Run the summary job in this process and return its text (404 Product if missing)."""

    def __init__(self, job_service: JobService) -> None:
        self._jobs = job_service

    async def execute(self, product_id: int) -> ProductSummaryResponse:
        summary = await self._jobs.run(BuildProductSummaryJob, params={"product_id": product_id})
        return ProductSummaryResponse(product_id=product_id, summary=summary)


class RestockWorkflowResponse(Response, frozen=True):
    summary: str
    restock_job_id: str
    queue: str


class RestockWorkflowUseCase(UseCase[Product, RestockWorkflowResponse]):
    """Workflow: build the summary (invoke), then dispatch the restock email."""

    def __init__(self, app: ApplicationInvoker, job_service: JobService) -> None:
        self._app = app
        self._jobs = job_service

    async def execute(
        self, product_id: int, cmd: DispatchRestockEmailCommand = Input()
    ) -> RestockWorkflowResponse:
        summary = await self._app.invoke(
            BuildProductSummaryUseCase, params={"product_id": product_id}
        )
        job_id, queue = _restock_email(self._jobs, product_id, cmd)
        return RestockWorkflowResponse(summary=summary.summary, restock_job_id=job_id, queue=queue)


class SyncProductsToErpCommand(Command, frozen=True):
    product_ids: list[int]
    force_fail_ids: list[int] = []


class SyncProductsToErpResponse(Response, frozen=True):
    dispatched: int
    job_ids: list[str]


def _no_products(product_ids: list[int]) -> bool:
    return not product_ids


class SyncProductsToErpUseCase(UseCase[Product, SyncProductsToErpResponse]):
    """One ERP sync job per product id (queue ``erp``); ``force_fail_ids`` make theirs fail."""

    rules = (
        Rule.check(
            F(SyncProductsToErpCommand).product_ids,
            via=_no_products,
            message="product_ids must include at least one product",
        ),
    )

    def __init__(self, job_service: JobService) -> None:
        self._jobs = job_service

    async def execute(self, cmd: SyncProductsToErpCommand = Input()) -> SyncProductsToErpResponse:
        failing = set(cmd.force_fail_ids)
        job_ids = [
            self._jobs.dispatch(
                SyncProductToErpJob,
                params={"product_id": product_id},
                payload={"product_id": product_id, "force_fail": product_id in failing},
            ).job_id
            for product_id in cmd.product_ids
        ]
        return SyncProductsToErpResponse(dispatched=len(job_ids), job_ids=job_ids)
