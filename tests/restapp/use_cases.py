"""Use cases the REST tests serve: custom routes, errors, rules, nested resources."""

from __future__ import annotations

from loom_django.core.command import Command, Internal, Patch
from loom_django.core.errors import Conflict, Forbidden, SystemError
from loom_django.core.repository.abc.query import (
    CursorResult,
    FilterGroup,
    FilterOp,
    FilterSpec,
    PageResult,
    QuerySpec,
    SortSpec,
)
from loom_django.core.response import Response
from loom_django.core.use_case import Exists, F, Input, OnMissing, Rule
from loom_django.core.use_case.use_case import UseCase
from tests.restapp.models import RestAddress, RestCustomer, RestOrder, RestOrderItem, RestProduct


class ListLowStockUseCase(UseCase[RestProduct, PageResult[RestProduct]]):
    """List products with stock <= 5."""

    read_only = True

    async def execute(self, profile: str = "default") -> PageResult[RestProduct]:
        query = QuerySpec(
            filters=FilterGroup(filters=(FilterSpec(field="stock", op=FilterOp.LTE, value=5),)),
            sort=(SortSpec(field="stock"), SortSpec(field="id")),
            limit=20,
        )
        result = await self.main_repo.list_with_query(query, profile=profile)
        assert isinstance(result, PageResult)
        return result


class ListBelowStockUseCase(UseCase[RestProduct, PageResult[RestProduct]]):
    """List products whose stock is at most ``max_stock``, plus the client's filters."""

    async def execute(self, query: QuerySpec, max_stock: int = 5) -> PageResult[RestProduct]:
        own = FilterSpec(field="stock", op=FilterOp.LTE, value=max_stock)
        extra = query.filters.filters if query.filters else ()
        scoped = QuerySpec(
            filters=FilterGroup(filters=(own, *extra)),
            sort=query.sort,
            pagination=query.pagination,
            limit=query.limit,
            page=query.page,
            cursor=query.cursor,
        )
        result = await self.main_repo.list_with_query(scoped)
        assert isinstance(result, PageResult)
        return result


class GetProductOverrideUseCase(UseCase[RestProduct, dict[str, object]]):
    """Get a product through the explicit override route."""

    async def execute(self, id: int) -> dict[str, object]:
        product = await self.main_repo.get_by_id(id)
        return {"overridden": True, "id": id, "found": product is not None}


class JobAccepted(Response, frozen=True):
    job_id: str
    queue: str


class AcceptJobUseCase(UseCase[RestProduct, JobAccepted]):
    """Accept a job for later."""

    async def execute(self, id: int) -> JobAccepted:
        return JobAccepted(job_id=f"job-{id}", queue="default")


class TouchProductUseCase(UseCase[RestProduct, bool]):
    """Touch a product and answer with no content."""

    async def execute(self, id: int) -> bool:
        return True


class FailingUseCase(UseCase[RestProduct, None]):
    """Raise the error named by ``kind``."""

    async def execute(self, kind: str) -> None:
        if kind == "forbidden":
            raise Forbidden("no")
        if kind == "conflict":
            raise Conflict("dup")
        if kind == "system":
            raise SystemError("db down")
        raise RuntimeError("secret detail")


class CreateThenFailCommand(Command, frozen=True):
    sku: str
    name: str


class CreateThenFailUseCase(UseCase[RestProduct, RestProduct]):
    """Create a product, then fail."""

    async def execute(self, cmd: CreateThenFailCommand = Input()) -> RestProduct:
        await self.main_repo.create(
            {"sku": cmd.sku, "name": cmd.name, "price_cents": 1, "stock": 1}
        )
        raise RuntimeError("failed after writing")


class NoneResultUseCase(UseCase[RestProduct, None]):
    """Return nothing."""

    async def execute(self) -> None:
        return None


class CreateCustomer(Command, frozen=True):
    name: str
    email: str
    tenant_id: Internal[int] = 0


def _blank(value: str) -> bool:
    return not value.strip()


def _bad_email(value: str) -> bool:
    return "@" not in value


class CreateCustomerUseCase(UseCase[RestCustomer, RestCustomer]):
    """Create a customer (name and email rules)."""

    rules = (
        Rule.check(F(CreateCustomer).name, via=_blank, message="name must not be blank"),
        Rule.check(F(CreateCustomer).email, via=_bad_email, message="email must be valid"),
    )

    async def execute(self, cmd: CreateCustomer = Input()) -> RestCustomer:
        return await self.main_repo.create({"name": cmd.name, "email": cmd.email})


class UpdateCustomer(Command, frozen=True):
    name: Patch[str] = None
    email: Patch[str] = None


def _empty_patch(cmd: UpdateCustomer, fields_set: frozenset[str]) -> bool:
    return not fields_set


class UpdateCustomerUseCase(UseCase[RestCustomer, RestCustomer]):
    """Update a customer; an empty patch is refused."""

    rules = (Rule.forbid(_empty_patch, message="nothing to update").from_command(),)

    async def execute(self, id: int, cmd: UpdateCustomer = Input()) -> RestCustomer:
        updated = await self.main_repo.update(id, cmd)
        assert updated is not None
        return updated


class CreateAddress(Command, frozen=True):
    city: str


class CreateAddressUseCase(UseCase[RestAddress, RestAddress]):
    """Create an address for an existing customer."""

    async def execute(
        self,
        customer_id: int,
        cmd: CreateAddress = Input(),
        _exists: bool = Exists(
            RestCustomer, from_param="customer_id", against="id", on_missing=OnMissing.RAISE
        ),
    ) -> RestAddress:
        return await self.main_repo.create({"customer_id": customer_id, "city": cmd.city})


class AddressIds(Response, frozen=True):
    customer_id: int
    address_id: int


class GetAddressIdsUseCase(UseCase[RestAddress, AddressIds]):
    """Echo the bound path parameters."""

    async def execute(self, customer_id: int, address_id: int) -> AddressIds:
        return AddressIds(customer_id=customer_id, address_id=address_id)


class CreateOrderItem(Command, frozen=True):
    order_id: int
    quantity: int


class CreateOrderItemUnguardedUseCase(UseCase[RestOrderItem, RestOrderItem]):
    """Create an order item without checking the order."""

    async def execute(self, cmd: CreateOrderItem = Input()) -> RestOrderItem:
        return await self.main_repo.create(cmd)


class CreateOrderItemGuardedUseCase(UseCase[RestOrderItem, RestOrderItem]):
    """Create an order item for an existing order."""

    async def execute(
        self,
        cmd: CreateOrderItem = Input(),
        _order: bool = Exists(
            RestOrder, from_command="order_id", against="id", on_missing=OnMissing.RAISE
        ),
    ) -> RestOrderItem:
        return await self.main_repo.create(cmd)


class ProductName(Response, frozen=True):
    id: int
    name: str


class ListProductNamesUseCase(
    UseCase[RestProduct, PageResult[ProductName] | CursorResult[ProductName]]
):
    """List products showing only id and name: price and stock stay private."""

    read_only = True

    async def execute(
        self, query: QuerySpec
    ) -> PageResult[ProductName] | CursorResult[ProductName]:
        result = await self.main_repo.list_with_query(query)
        items = tuple(ProductName(id=p.id, name=p.name) for p in result.items)
        if isinstance(result, CursorResult):
            return CursorResult(
                items=items, next_cursor=result.next_cursor, has_next=result.has_next
            )
        return PageResult(
            items=items,
            total_count=result.total_count,
            page=result.page,
            limit=result.limit,
            has_next=result.has_next,
        )
