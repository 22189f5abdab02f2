"""repository_for with RepositoryDjango subclasses and contract injection (criterion 50)."""

from __future__ import annotations

import pytest

from loom_django.core.repository import repository_for as core_repository_for
from loom_django.core.repository.abc import Readable, RepoFor
from loom_django.orm import RepositoryDjango, repository_for
from tests.testapp.models import Product, Tag

from . import use_cases as uc

pytestmark = pytest.mark.django_db


def test_repository_for_is_importable_from_the_orm_door():
    assert repository_for is core_repository_for


def test_registering_another_class_for_the_same_model_raises():
    class Other(RepositoryDjango[Tag, int]):
        pass

    with pytest.raises(RuntimeError, match="Repository already registered for model Tag"):
        repository_for(Tag)(Other)
    assert repository_for(Tag)(uc.TagRepository) is uc.TagRepository


def test_registered_repository_is_the_auto_crud_main_repository(runtime):
    created = runtime.invoke_sync(runtime.crud[Tag]["create"], payload={"name": "  RED "})
    assert created.name == "red"
    assert runtime.invoke_sync(uc.CreateTag, payload={"name": "Blue"}).name == "blue"


def test_contract_is_injected_where_a_constructor_asks_for_it(runtime):
    runtime.invoke_sync(uc.CreateTag, payload={"name": "b"})
    runtime.invoke_sync(uc.CreateTag, payload={"name": "a"})
    assert runtime.invoke_sync(uc.ListTagNames) == ["a", "b"]


def test_one_repository_instance_serves_every_key(runtime):
    container = runtime.container
    repo = container.resolve(uc.TagRepo)
    assert isinstance(repo, uc.TagRepository)
    assert container.resolve(Readable[Tag]) is repo
    assert container.resolve(RepoFor[Tag]) is repo
    assert container.resolve_repo(Tag) is repo


def test_models_without_registration_get_the_default_django_repository(runtime):
    repo = runtime.container.resolve_repo(Product)
    assert type(repo) is RepositoryDjango and repo.model is Product
