"""A create-product use case with computes and rules, run by the IntoUseCase tests."""

from __future__ import annotations

from loom_django.core.command import Command
from loom_django.core.use_case import Compute, F, Input, Rule, UseCase
from tests.testapp.models import Product


class NewProduct(Command, frozen=True):
    sku: str
    name: str
    price_cents: int
    stock: int = 0


def _positive(price_cents: int) -> str | None:
    return None if price_cents > 0 else "price must be positive"


def _upper(sku: str) -> str:
    return sku.strip().upper()


class CreateProductUseCase(UseCase[Product, Product]):
    """Create a product with a positive price; the sku is normalised to upper case."""

    computes = (Compute.set(F(NewProduct).sku).from_command(F(NewProduct).sku, via=_upper),)
    rules = (Rule.check(F(NewProduct).price_cents, via=_positive),)

    async def execute(self, cmd: NewProduct = Input()) -> Product:
        return await self.main_repo.create(
            {"sku": cmd.sku, "name": cmd.name, "price_cents": cmd.price_cents, "stock": cmd.stock}
        )
