"""Use cases run through the real Django runtime by the transaction and registration tests."""

from __future__ import annotations

from typing import Any, Protocol

from django.db import connection

from loom_django.core.command import Command
from loom_django.core.errors import Conflict
from loom_django.core.job import Job, JobService
from loom_django.core.repository.abc import RepoFor
from loom_django.core.uow import run_after_commit
from loom_django.core.use_case import ApplicationInvoker, Input, UseCase
from loom_django.orm import RepositoryDjango, db_method, loom_model_for, repository_for
from tests.testapp.models import Book, Product, Review, Tag

EVENTS: list[str] = []
"""What after-commit callbacks recorded, in order (tests clear it)."""


class NewProduct(Command, frozen=True):
    sku: str
    stock: int = 1


class NewReview(Command, frozen=True):
    product_id: int
    rating: int = 1


def _product(sku: str, stock: int = 1) -> dict[str, Any]:
    return {"sku": sku, "name": sku, "price_cents": 100, "stock": stock}


class CreateProduct(UseCase[Product, Product]):
    """Creates one product; registers an after-commit callback naming it."""

    async def execute(self, cmd: NewProduct = Input()) -> Product:
        created = await self.main_repo.create(_product(cmd.sku, cmd.stock))
        run_after_commit(lambda: EVENTS.append(f"committed {cmd.sku}"))
        return created


class CreateTwoProducts(UseCase[Product, bool]):
    """Writes twice in one transaction and reports whether it ran inside one."""

    async def execute(self, cmd: NewProduct = Input()) -> bool:
        await self.main_repo.create(_product(f"{cmd.sku}-a"))
        await self.main_repo.create(_product(f"{cmd.sku}-b"))
        return connection.in_atomic_block


class CreateThenFail(UseCase[Product, None]):
    """Writes a row, registers a callback, then fails."""

    async def execute(self, cmd: NewProduct = Input()) -> None:
        await self.main_repo.create(_product(cmd.sku))
        run_after_commit(lambda: EVENTS.append(f"committed {cmd.sku}"))
        raise RuntimeError("failed after writing")


class SyncCreateThenFail(UseCase[Product, None]):
    """A synchronous execute using the Django ORM directly, then failing."""

    def execute(self, cmd: NewProduct = Input()) -> None:
        Product.__django_model__.objects.create(**_product(cmd.sku))
        raise RuntimeError("sync failure")


class OuterFailsAfterInner(UseCase[Product, None]):
    """Invokes CreateProduct, then fails: both writes must roll back."""

    def __init__(self, app: ApplicationInvoker) -> None:
        self.app = app

    async def execute(self, cmd: NewProduct = Input()) -> None:
        await self.app.invoke(CreateProduct, payload={"sku": f"{cmd.sku}-inner"})
        EVENTS.append("inner returned")
        raise RuntimeError("outer failed")


class InnerFails(UseCase[Product, None]):
    """Writes then fails; invoked by OuterCatchesInner."""

    async def execute(self, cmd: NewProduct = Input()) -> None:
        await self.main_repo.create(_product(cmd.sku))
        run_after_commit(lambda: EVENTS.append(f"committed {cmd.sku}"))
        raise Conflict("inner failed")


class OuterCatchesInner(UseCase[Product, str]):
    """Catches the inner failure and writes its own row: only the inner write is undone."""

    def __init__(self, app: ApplicationInvoker) -> None:
        self.app = app

    async def execute(self, cmd: NewProduct = Input()) -> str:
        await self.app.invoke(CreateProduct, payload={"sku": f"{cmd.sku}-kept"})
        try:
            await self.app.invoke(InnerFails, payload={"sku": f"{cmd.sku}-undone"})
        except Conflict:
            pass
        await self.main_repo.create(_product(f"{cmd.sku}-outer"))
        return "ok"


class InTransaction(UseCase[Product, bool]):
    """Reports whether it runs inside an atomic block (a write use case)."""

    async def execute(self) -> bool:
        await self.main_repo.count()
        return connection.in_atomic_block


class ReadOnlyInTransaction(InTransaction):
    """The same, declared read-only."""

    read_only = True


class ReviewMissingProduct(UseCase[Review, Review]):
    """Creates a review of a product that does not exist (deferred foreign key)."""

    async def execute(self, cmd: NewReview = Input()) -> Review:
        return await self.main_repo.create({"product_id": cmd.product_id, "rating": cmd.rating})


class TagRepo(RepoFor[Tag], Protocol):
    """A custom contract: the seed's ``ProductRepo(RepoFor[Product], Protocol)`` pattern."""

    async def names(self) -> list[str]: ...


@repository_for(Tag, contract=TagRepo)
class TagRepository(RepositoryDjango[Tag, int], TagRepo):
    """A custom Django repository registered for Tag."""

    @db_method
    def names(self) -> list[str]:
        return list(self.queryset().order_by("name").values_list("name", flat=True))

    async def create(self, data: Any) -> Tag:
        payload = dict(data) if isinstance(data, dict) else {"name": data.name}
        payload["name"] = str(payload["name"]).strip().lower()
        return await super().create(payload)


class NewTag(Command, frozen=True):
    name: str


class CreateTag(UseCase[Tag, Tag]):
    """Uses the registered repository as its main repository."""

    async def execute(self, cmd: NewTag = Input()) -> Tag:
        return await self.main_repo.create(cmd)


class ListTagNames(UseCase[Tag, list[str]]):
    """Asks for the custom contract in its constructor."""

    read_only = True

    def __init__(self, tags: TagRepo) -> None:
        self.tags = tags

    async def execute(self) -> list[str]:
        return await self.tags.names()


class OuterObserves(UseCase[Product, list[str]]):
    """Invokes CreateProduct and returns what was recorded so far (nothing may be flushed)."""

    def __init__(self, app: ApplicationInvoker) -> None:
        self.app = app

    async def execute(self, cmd: NewProduct = Input()) -> list[str]:
        await self.app.invoke(CreateProduct, payload={"sku": cmd.sku})
        return list(EVENTS)


class RecordJob(Job[None]):
    """Records that it ran."""

    def execute(self, cmd: NewProduct = Input()) -> None:
        EVENTS.append(f"job {cmd.sku}")


class DispatchJob(UseCase[Product, None]):
    """Writes a row and dispatches RecordJob; fails when the sku says so."""

    def __init__(self, jobs: JobService) -> None:
        self.jobs = jobs

    async def execute(self, cmd: NewProduct = Input()) -> None:
        self.jobs.dispatch(RecordJob, payload={"sku": cmd.sku})
        EVENTS.append(f"dispatched {cmd.sku}")
        if cmd.sku.startswith("fail"):
            raise RuntimeError("dispatcher failed")


LegacyBook = loom_model_for(Book)
"""A loom model derived from the existing Django model ``Book`` (served by auto-CRUD)."""


class AwaitsAsyncOrm(UseCase[Product, Any]):
    """Awaits Django's async ORM inside execute: refused, there is no event loop."""

    read_only = True

    async def execute(self) -> Any:
        return await Product.__django_model__.objects.afirst()


class CreateOnOtherThenFail(UseCase[Product, None]):
    """Writes through a repository on the ``other`` database, then fails."""

    async def execute(self, cmd: NewProduct = Input()) -> None:
        other = RepositoryDjango(Product, using="other")
        await other.create(_product(cmd.sku))
        run_after_commit(lambda: EVENTS.append(f"committed {cmd.sku}"))
        raise RuntimeError("failed after writing on other")


class CreateOnOther(UseCase[Product, bool]):
    """Writes through a repository on the ``other`` database; reports its transaction."""

    async def execute(self, cmd: NewProduct = Input()) -> bool:
        from django.db import connections

        other = RepositoryDjango(Product, using="other")
        await other.create(_product(cmd.sku))
        run_after_commit(lambda: EVENTS.append(f"committed {cmd.sku}"))
        return connections["other"].in_atomic_block
