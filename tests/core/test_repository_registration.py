"""repository_for and the DI keys a repository is bound under."""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

import pytest

from loom_django.core.model import BaseModel, ColumnField, detached_models
from loom_django.core.repository import (
    Countable,
    Creatable,
    Deletable,
    Listable,
    Readable,
    RepoFor,
    RepositoryBuildContext,
    RepositoryRegistration,
    RepositoryToken,
    Updatable,
    get_repository_registration,
    repository_capabilities,
    repository_for,
    repository_keys,
)

M = TypeVar("M")
IdT = TypeVar("IdT")

with detached_models():

    class Product(BaseModel):
        __tablename__ = "reg_products"
        id: int = ColumnField(primary_key=True)

    class Other(BaseModel):
        __tablename__ = "reg_other"
        id: int = ColumnField(primary_key=True)


class GenericRepo(RepoFor[M], Generic[M, IdT]):
    """Stands in for a backend base class such as RepositoryDjango[M, IdT]."""


class ProductRepo(RepoFor[Product], Protocol):
    async def get_by_slug(self, slug: str) -> Product | None: ...


ALL_SIX = {
    Readable[Product],
    Creatable[Product],
    Updatable[Product],
    Deletable[Product],
    Listable[Product],
    Countable[Product],
}


def _fresh_model() -> type[BaseModel]:
    with detached_models():

        class Fresh(BaseModel):
            __tablename__ = "reg_fresh"
            id: int = ColumnField(primary_key=True)

    return Fresh


def test_repository_for_stores_registration_on_the_model() -> None:
    model = _fresh_model()

    @repository_for(model, contract=ProductRepo)
    class Repo:
        pass

    registration = get_repository_registration(model)
    assert registration == RepositoryRegistration(model, Repo, None, ProductRepo)
    assert model.__loom_repository__ is registration  # type: ignore[attr-defined]


def test_registering_the_same_class_twice_is_a_no_op() -> None:
    model = _fresh_model()

    class Repo:
        pass

    assert repository_for(model)(Repo) is Repo
    assert repository_for(model)(Repo) is Repo


def test_registering_a_different_class_raises() -> None:
    model = _fresh_model()

    @repository_for(model)
    class First:
        pass

    with pytest.raises(RuntimeError, match="Repository already registered for model Fresh: First"):

        @repository_for(model)
        class Second:
            pass


def test_builder_is_kept_on_the_registration() -> None:
    model = _fresh_model()

    def build(ctx: RepositoryBuildContext) -> Any:
        return ("built", ctx.model)

    @repository_for(model, builder=build)
    class Repo:
        pass

    registration = get_repository_registration(model)
    assert registration is not None and registration.builder is not None
    assert registration.builder(RepositoryBuildContext(model, None)) == ("built", model)


def test_keys_of_generic_backend_subclass_are_all_capabilities_for_the_model() -> None:
    class ProductRepository(GenericRepo[Product, int]):
        pass

    keys = repository_keys(ProductRepository, Product)
    assert keys[0] == RepoFor[Product]
    assert set(keys[1:]) == ALL_SIX


def test_keys_include_direct_protocol_bases() -> None:
    class ProductRepository(GenericRepo[Product, int], ProductRepo):
        pass

    keys = repository_keys(ProductRepository, Product)
    assert ProductRepo in keys
    assert RepoFor[Product] in keys


def test_keys_include_the_explicit_contract() -> None:
    class ProductRepository(GenericRepo[Product, int]):
        pass

    assert repository_keys(ProductRepository, Product, ProductRepo)[-1] is ProductRepo


def test_only_declared_capabilities_are_keys() -> None:
    class ReadOnly(Readable[Product], Countable[Product]):
        pass

    assert repository_keys(ReadOnly, Product) == (Readable[Product], Countable[Product])
    assert repository_capabilities(ReadOnly, Product) == (Readable, Countable)


def test_capabilities_for_another_model_are_ignored() -> None:
    class Mixed(Readable[Other], Deletable[Product]):
        pass

    assert repository_keys(Mixed, Product) == (Deletable[Product],)


def test_unbound_type_variable_counts_as_the_model() -> None:
    class Unparametrised(GenericRepo):  # type: ignore[type-arg]
        pass

    assert set(repository_keys(Unparametrised, Product)) == ALL_SIX | {RepoFor[Product]}


def test_default_repository_keys_are_repo_for_and_the_six_capabilities() -> None:
    keys = repository_keys(None, Product)
    assert keys[0] == RepoFor[Product]
    assert set(keys[1:]) == ALL_SIX


def test_repository_token_is_a_hashable_value() -> None:
    assert RepositoryToken(Product) == RepositoryToken(Product)
    assert len({RepositoryToken(Product), RepositoryToken(Other)}) == 2
