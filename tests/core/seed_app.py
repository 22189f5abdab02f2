"""The seed documents' code (000 quickstart, 001 store demo) written with loom_django imports.

Names the seeds use without defining (responses, PricingCommand, TAX_RATES, ...) are
filled in minimally; everything else is the seeds' code with ``loom.`` → ``loom_django.``.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import msgspec

from loom_django.core.command import Command, Computed, Patch
from loom_django.core.errors import NotFound
from loom_django.core.job.job import Job
from loom_django.core.job.service import JobService
from loom_django.core.model import BaseModel, ColumnField, OnDelete, TimestampedModel
from loom_django.core.repository.abc import RepoFor
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
from loom_django.core.use_case import Compute, Exists, F, Input, LoadById, OnMissing, Rule
from loom_django.core.use_case.invoker import ApplicationInvoker
from loom_django.core.use_case.use_case import UseCase

# --- 1. models ---------------------------------------------------------------------------


class User(TimestampedModel):
    __tablename__ = "users"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    full_name: str = ColumnField(length=120)
    email: str = ColumnField(length=255, unique=True, index=True)


class Address(BaseModel):
    __tablename__ = "addresses"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    user_id: int = ColumnField(foreign_key="users.id", on_delete=OnDelete.CASCADE, index=True)
    label: str = ColumnField(length=80)
    street: str = ColumnField(length=255)
    city: str = ColumnField(length=120)
    country: str = ColumnField(length=120)
    zip_code: str = ColumnField(length=20)


class Product(TimestampedModel):
    __tablename__ = "products"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    sku: str = ColumnField(length=64, unique=True, index=True)
    name: str = ColumnField(length=150)
    category: str = ColumnField(length=120, index=True)
    price_cents: int = ColumnField()
    stock: int = ColumnField()


class Record(BaseModel):
    __tablename__ = "records"

    id: int = ColumnField(primary_key=True, autoincrement=True)
    label: str = ColumnField(length=40)


# --- 2. commands --------------------------------------------------------------------------

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class CreateUser(Command, frozen=True):
    full_name: str
    email: str


class UpdateUser(Command, frozen=True):
    full_name: Patch[str] = None
    email: Patch[str] = None


class CreateUserAddress(Command, frozen=True):
    label: str
    street: str
    city: str
    country: str
    zip_code: str


class CreateAddressRecord(Command, frozen=True):
    user_id: int
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


class CreateProduct(Command, frozen=True):
    sku: str
    name: str
    category: str
    price_cents: int
    stock: int


class DispatchRestockEmailCommand(Command, frozen=True):
    recipient_email: str
    force_fail: bool = False


class SendRestockEmailJobCommand(Command, frozen=True):
    product_id: int
    recipient_email: str
    force_fail: bool = False


class PricingCommand(Command, frozen=True):
    email: str
    unit_price: float
    quantity: int
    tax_rate: float
    country: str
    normalized_email: Computed[str] = None
    subtotal: Computed[float] = None
    tax_amount: Computed[float] = None


class DispatchRestockEmailResponse(Response, frozen=True):
    job_id: str
    queue: str


class RestockWorkflowResponse(Response, frozen=True):
    summary: str
    restock_job_id: str
    queue: str


class ProductSummaryResponse(Response, frozen=True):
    summary: str


class PricingPreviewResponse(Response, frozen=True):
    normalized_email: str
    subtotal: float
    tax_amount: float


TAX_RATES = {"ES": 0.21, "FR": 0.2, "DE": 0.19}

# --- 3. use cases -------------------------------------------------------------------------


def _name_must_not_be_blank(full_name: str) -> str | None:
    return None if full_name.strip() else "full_name must not be blank"


def _email_must_be_valid(email: str) -> str | None:
    return None if _EMAIL_RE.fullmatch(email) else "email must be valid"


def _email_is_taken(cmd: CreateUser, fields_set: frozenset[str], email_exists: bool) -> bool:
    return email_exists


class CreateUserUseCase(UseCase[User, User]):
    rules = [
        Rule.check(F(CreateUser).full_name, via=_name_must_not_be_blank),
        Rule.check(F(CreateUser).email, via=_email_must_be_valid),
        Rule.forbid(_email_is_taken, message="email already exists").from_params("email_exists"),
    ]

    async def execute(
        self,
        cmd: CreateUser = Input(),
        email_exists: bool = Exists(User, from_command="email", against="email"),
    ) -> User:
        return await self.main_repo.create(cmd)


class UpdateUserUseCase(UseCase[User, User | None]):
    rules = [
        Rule.check(F(UpdateUser).full_name, via=_name_must_not_be_blank).when_present(
            F(UpdateUser).full_name
        )
    ]

    async def execute(
        self,
        user_id: int,
        cmd: UpdateUser = Input(),
        current_user: User = LoadById(User, by="user_id"),
    ) -> User | None:
        return await self.main_repo.update(user_id, cmd)


class CreateAddressUseCase(UseCase[Address, Address]):
    async def execute(
        self,
        user_id: int,
        cmd: CreateUserAddress = Input(),
        _user_exists: bool = Exists(
            User, from_param="user_id", against="id", on_missing=OnMissing.RAISE
        ),
    ) -> Address:
        payload = CreateAddressRecord(user_id=user_id, **msgspec.structs.asdict(cmd))
        return await self.main_repo.create(payload)


class ListAddressesUseCase(UseCase[Address, PageResult[Address] | CursorResult[Address]]):
    async def execute(
        self,
        user_id: int,
        query: QuerySpec,
        profile: str = "default",
    ) -> PageResult[Address] | CursorResult[Address]:
        scoped_query = QuerySpec(
            filters=FilterGroup(
                filters=(FilterSpec(field="user_id", op=FilterOp.EQ, value=user_id),),
            ),
            sort=query.sort,
            pagination=query.pagination,
            limit=query.limit,
            page=query.page,
            cursor=query.cursor,
        )
        return await self.main_repo.list_with_query(scoped_query, profile=profile)


class ListLowStockProductsUseCase(UseCase[Product, PageResult[Product]]):
    async def execute(self, profile: str = "default") -> PageResult[Product]:
        query = QuerySpec(
            filters=FilterGroup(filters=(FilterSpec(field="stock", op=FilterOp.LTE, value=5),)),
            sort=(
                SortSpec(field="stock", direction="ASC"),
                SortSpec(field="id", direction="ASC"),
            ),
            pagination=PaginationMode.OFFSET,
            limit=20,
            page=1,
        )
        result = await self.main_repo.list_with_query(query, profile=profile)
        if not isinstance(result, PageResult):
            raise RuntimeError("Expected offset result")
        return result


class CreateProductUseCase(UseCase[Product, Product]):
    async def execute(self, cmd: CreateProduct = Input()) -> Product:
        return await self.main_repo.create(cmd)


class ProductRepo(RepoFor[Product], Protocol):
    async def get_by_slug(self, slug: str) -> Product | None: ...


# --- 4. jobs ------------------------------------------------------------------------------


class SendRestockEmailJob(Job[bool]):
    __queue__ = "notifications"

    async def execute(
        self,
        product_id: int,
        cmd: SendRestockEmailJobCommand = Input(),
        product: Product = LoadById(Product, by="product_id"),
    ) -> bool:
        if cmd.force_fail:
            raise RuntimeError("forced restock email failure")
        if product.stock > 0:
            return False
        return True


class BuildProductSummaryJob(Job[str]):
    __queue__ = "analytics"

    async def execute(
        self,
        product_id: int,
        product: Product = LoadById(Product, by="product_id"),
    ) -> str:
        availability = "in stock" if product.stock > 0 else "out of stock"
        return f"{product.sku} ({product.name}) is {availability}."


class BuildProductSummaryUseCase(UseCase[Product, ProductSummaryResponse]):
    read_only = True

    async def execute(
        self,
        product_id: int,
        product: Product = LoadById(Product, by="product_id"),
    ) -> ProductSummaryResponse:
        availability = "in stock" if product.stock > 0 else "out of stock"
        return ProductSummaryResponse(summary=f"{product.sku} ({product.name}) is {availability}.")


# --- 5./6. dispatch and callbacks ---------------------------------------------------------


class RestockEmailSuccessCallback:
    def __init__(self, app: ApplicationInvoker) -> None:
        self._app = app

    async def on_success(self, job_id: str, result: Any, **context: Any) -> None:
        if not bool(result):
            return
        product_id = context.get("product_id")
        entity = self._app.entity(Product)
        product = await entity.get(params={"id": product_id})
        if product:
            await entity.update(
                params={"id": product_id},
                payload={"category": f"{product.category}-restock-notified"},
            )

    async def on_failure(self, job_id: str, exc_type: str, exc_msg: str, **context: Any) -> None:
        FAILURES.append((job_id, exc_type, exc_msg, context.get("product_id")))


FAILURES: list[tuple[str, str, str, Any]] = []


class DispatchRestockEmailUseCase(UseCase[Product, DispatchRestockEmailResponse]):
    def __init__(self, job_service: JobService) -> None:
        self._jobs = job_service

    async def execute(
        self,
        product_id: str,
        cmd: DispatchRestockEmailCommand = Input(),
    ) -> DispatchRestockEmailResponse:
        handle = self._jobs.dispatch(
            SendRestockEmailJob,
            params={"product_id": int(product_id)},
            payload={
                "product_id": int(product_id),
                "recipient_email": cmd.recipient_email,
                "force_fail": cmd.force_fail,
            },
            on_success=RestockEmailSuccessCallback,
            on_failure=RestockEmailSuccessCallback,
        )
        return DispatchRestockEmailResponse(job_id=handle.job_id, queue=handle.queue)


class RestockWorkflowUseCase(UseCase[Product, RestockWorkflowResponse]):
    def __init__(self, app: ApplicationInvoker, job_service: JobService) -> None:
        self._app = app
        self._jobs = job_service

    async def execute(
        self,
        product_id: str,
        cmd: DispatchRestockEmailCommand = Input(),
    ) -> RestockWorkflowResponse:
        summary_result = await self._app.invoke(
            BuildProductSummaryUseCase,
            params={"product_id": int(product_id)},
        )
        handle = self._jobs.dispatch(
            SendRestockEmailJob,
            params={"product_id": int(product_id)},
            payload={"product_id": int(product_id), "recipient_email": cmd.recipient_email},
            on_success=RestockEmailSuccessCallback,
            on_failure=RestockEmailSuccessCallback,
        )
        return RestockWorkflowResponse(
            summary=summary_result.summary,
            restock_job_id=handle.job_id,
            queue=handle.queue,
        )


# --- computes + rules (000 "advanced") ----------------------------------------------------


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


class PricingPreviewUseCase(UseCase[Record, PricingPreviewResponse]):
    computes = (
        Compute.set(F(PricingCommand).normalized_email).from_command(
            F(PricingCommand).email,
            via=_normalize_email,
        ),
        Compute.set(F(PricingCommand).subtotal).from_command(
            F(PricingCommand).unit_price,
            F(PricingCommand).quantity,
            via=_compute_subtotal,
        ),
        Compute.set(F(PricingCommand).tax_amount).from_command(
            F(PricingCommand).subtotal,
            F(PricingCommand).tax_rate,
            via=_compute_tax,
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
        self, record_id: int, cmd: PricingCommand = Input()
    ) -> PricingPreviewResponse:
        assert cmd.normalized_email is not None
        assert cmd.subtotal is not None and cmd.tax_amount is not None
        return PricingPreviewResponse(
            normalized_email=cmd.normalized_email, subtotal=cmd.subtotal, tax_amount=cmd.tax_amount
        )


def missing_product(product_id: int) -> NotFound:
    return NotFound("Product", id=product_id)


MODELS = [User, Address, Product, Record]
USE_CASES = [
    CreateUserUseCase,
    UpdateUserUseCase,
    CreateAddressUseCase,
    ListAddressesUseCase,
    ListLowStockProductsUseCase,
    CreateProductUseCase,
    BuildProductSummaryUseCase,
    DispatchRestockEmailUseCase,
    RestockWorkflowUseCase,
    PricingPreviewUseCase,
]
JOBS = [SendRestockEmailJob, BuildProductSummaryJob]
CALLBACKS = [RestockEmailSuccessCallback]
