"""Deletes go through Django's collector so every OnDelete policy holds (criterion 6; §2.5)."""

from __future__ import annotations

import pytest

from loom_django.core.errors import Conflict
from loom_django.core.uow import activate_uow, deactivate_uow
from loom_django.orm import DjangoUnitOfWork, RepositoryDjango
from tests.testapp.models import ProductTag

from .conftest import make_product, run

pytestmark = pytest.mark.django_db


@pytest.fixture
def household(users, addresses):
    user = run(users.create({"full_name": "A", "email": "a@b.c"}))
    home = run(addresses.create({"user_id": user.id, "label": "home", "city": "Oslo"}))
    work = run(addresses.create({"user_id": user.id, "label": "work", "city": "Rome"}))
    return user, home, work


def test_cascade_deletes_the_children(users, addresses, household):
    user, home, work = household
    assert run(users.delete(user.id)) is True
    assert run(addresses.get_by_id(home.id)) is None
    assert run(addresses.count()) == 0


def test_restrict_with_children_is_a_conflict_and_deletes_nothing(addresses, orders, household):
    user, home, _ = household
    run(orders.create({"user_id": user.id, "address_id": home.id}))
    with pytest.raises(Conflict, match=r"Cannot delete Address with id=\d+: .*Order"):
        run(addresses.delete(home.id))
    assert run(addresses.get_by_id(home.id)) == home
    assert run(orders.count()) == 1


def test_cascade_reaching_a_restricted_row_through_the_same_parent_succeeds(
    users, orders, addresses, household
):
    user, home, _ = household
    run(orders.create({"user_id": user.id, "address_id": home.id}))
    assert run(users.delete(user.id)) is True
    assert (run(orders.count()), run(addresses.count())) == (0, 0)


def test_set_null_clears_the_reference(users, reviews, products):
    author = run(users.create({"full_name": "R", "email": "r@b.c"}))
    product = make_product(products, "P")
    review = run(reviews.create({"product_id": product.id, "author_id": author.id, "rating": 3}))
    assert run(users.delete(author.id)) is True
    assert run(reviews.get_by_id(review.id)).author_id is None


def test_delete_reports_only_the_target_model(products, reviews):
    product = make_product(products, "P")
    run(reviews.create({"product_id": product.id, "rating": 3}))
    assert run(products.delete(product.id)) is True
    assert run(reviews.count()) == 0


def test_no_action_leaves_the_database_to_refuse(products, tags):
    product = make_product(products, "P")
    tag = run(tags.create({"name": "red"}))
    run(RepositoryDjango(ProductTag).create({"product_id": product.id, "tag_id": tag.id}))
    uow = DjangoUnitOfWork()
    uow.begin()
    token = activate_uow(uow)
    assert run(tags.delete(tag.id)) is True
    deactivate_uow(token)
    with pytest.raises(Conflict, match="A referenced entity does not exist"):
        uow.commit()
    assert run(tags.get_by_id(tag.id)) == tag
