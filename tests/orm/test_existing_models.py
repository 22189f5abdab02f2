"""Existing Django models served through a derived loom model (``loom_model_for``)."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import msgspec
import pytest

from loom_django.core.errors import Conflict
from loom_django.core.model import BaseModel, get_column_fields, get_id_attribute
from loom_django.orm import RepositoryDjango, django_model_for, loom_model_for
from tests.testapp.models import Book, Publisher

from .conftest import run


@pytest.fixture
def books():
    return RepositoryDjango(loom_model_for(Book))


def test_derived_model_is_a_loom_struct_with_a_column_per_concrete_field():
    LegacyBook = loom_model_for(Book)
    assert issubclass(LegacyBook, BaseModel)
    assert LegacyBook.__tablename__ == "legacy_books"
    assert list(get_column_fields(LegacyBook)) == [
        "id",
        "title",
        "pages",
        "published",
        "publisher_id",
        "code",
        "added",
        "changed",
    ]
    assert get_id_attribute(LegacyBook) == "id"


def test_derived_columns_follow_the_django_fields():
    columns = get_column_fields(loom_model_for(Book))
    assert columns["title"].field.length == 200 and columns["title"].field.index
    assert columns["pages"].field.default == 100
    assert columns["published"].nullable and columns["published"].python_type is dt.date
    assert columns["publisher_id"].field.foreign_key == "legacy_publishers.id"
    assert columns["code"].python_type is uuid.UUID and columns["code"].field.unique
    assert columns["changed"].field.server_onupdate is not None
    assert columns["added"].field.server_default is not None


def test_derivation_happens_once_and_maps_back():
    LegacyBook = loom_model_for(Book)
    assert loom_model_for(Book) is LegacyBook
    assert django_model_for(LegacyBook) is Book


@pytest.mark.django_db
def test_repository_serves_the_existing_model(books):
    created = run(books.create({"title": "Dune"}))
    assert isinstance(created.id, int) and created.pages == 100
    assert isinstance(created.code, uuid.UUID) and created.added is not None
    assert run(books.get_by_id(created.id)) == created
    time.sleep(0.002)
    updated = run(books.update(created.id, {"pages": 412}))
    assert updated.pages == 412 and updated.changed > created.changed
    assert updated.added == created.added
    assert Book.objects.get(pk=created.id).pages == 412
    assert msgspec.json.decode(msgspec.json.encode(updated))["publisherId"] is None


@pytest.mark.django_db
def test_protected_reference_blocks_deleting_the_publisher(books):
    publisher = Publisher.objects.create(name="Ace")
    run(books.create({"title": "Dune", "publisher_id": publisher.pk}))
    publishers = RepositoryDjango(loom_model_for(Publisher))
    with pytest.raises(Conflict, match="Cannot delete Publisher"):
        run(publishers.delete(publisher.pk))


@pytest.mark.django_db(transaction=True)
def test_auto_crud_serves_a_model_derived_at_import(runtime):
    from .use_cases import LegacyBook

    created = runtime.invoke_sync(runtime.crud[LegacyBook]["create"], payload={"title": "Emma"})
    found = runtime.invoke_sync(runtime.crud[LegacyBook]["get"], params={"id": created.id})
    assert found == created and Book.objects.count() == 1
