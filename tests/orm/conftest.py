"""Fixtures of the ORM suite: repositories driven like the engine drives them, and a runtime."""

from __future__ import annotations

from collections.abc import Coroutine, Iterator
from typing import Any

import pytest

from loom_django.core.engine.driver import drive
from loom_django.orm import RepositoryDjango
from loom_django.runtime import get_runtime, reset_runtime
from tests.testapp.models import Address, Order, Product, Review, Tag, User


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Drive a repository coroutine to completion on this thread, as the executor does."""
    return drive(coro)


@pytest.fixture
def products() -> RepositoryDjango[Product, int]:
    return RepositoryDjango(Product)


@pytest.fixture
def reviews() -> RepositoryDjango[Review, int]:
    return RepositoryDjango(Review)


@pytest.fixture
def users() -> RepositoryDjango[User, int]:
    return RepositoryDjango(User)


@pytest.fixture
def addresses() -> RepositoryDjango[Address, int]:
    return RepositoryDjango(Address)


@pytest.fixture
def orders() -> RepositoryDjango[Order, int]:
    return RepositoryDjango(Order)


@pytest.fixture
def tags() -> RepositoryDjango[Tag, int]:
    return RepositoryDjango(Tag)


def make_product(repo: RepositoryDjango[Product, int], sku: str, **values: Any) -> Product:
    data = {"sku": sku, "name": f"Product {sku}", "price_cents": 100, "stock": 10, **values}
    return run(repo.create(data))


@pytest.fixture
def runtime(settings: Any) -> Iterator[Any]:
    """The real Django runtime with the ORM door, discovering ``tests.orm.use_cases``."""
    settings.LOOM = {
        "CONFIG": {
            "app": {
                "discovery": {"mode": "modules", "modules": {"include": ["tests.orm.use_cases"]}}
            }
        }
    }
    reset_runtime()
    yield get_runtime()
    reset_runtime()
