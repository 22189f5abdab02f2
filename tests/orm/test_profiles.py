"""Profiles: relations and projections load per profile, without N+1 (criteria 10, 11)."""

from __future__ import annotations

import msgspec
import pytest

from loom_django.core.errors import ValidationError
from loom_django.core.repository.abc.query import QuerySpec
from loom_django.orm import RepositoryDjango
from tests.testapp.models import Product, ProductTag, Review

from .conftest import make_product, run

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewed(products, reviews):
    product = make_product(products, "REV-1")
    for rating in (5, 3):
        run(reviews.create({"product_id": product.id, "rating": rating, "body": f"r{rating}"}))
    return product


def test_relation_outside_its_profile_is_unset(products, reviewed):
    loaded = run(products.get_by_id(reviewed.id))
    assert loaded.reviews is msgspec.UNSET
    assert loaded.count_reviews is msgspec.UNSET
    assert "reviews" not in msgspec.json.decode(msgspec.json.encode(loaded))


def test_relation_in_its_profile_is_a_list_of_structs(products, reviewed):
    loaded = run(products.get_by_id(reviewed.id, profile="with_details"))
    assert [type(r) for r in loaded.reviews] == [Review, Review]
    assert [r.rating for r in loaded.reviews] == [5, 3]
    assert loaded.reviews[0].product is msgspec.UNSET


def test_projections_computed_from_the_loaded_relation(products, reviewed):
    loaded = run(products.get_by_id(reviewed.id, profile="with_details"))
    assert (loaded.count_reviews, loaded.has_reviews) == (2, True)
    assert loaded.review_snippets == [{"rating": 5, "body": "r5"}, {"rating": 3, "body": "r3"}]


def test_count_and_exists_projections_as_subqueries(products, reviewed):
    loaded = run(products.get_by_id(reviewed.id, profile="with_counts"))
    assert (loaded.count_reviews, loaded.has_reviews) == (2, True)
    assert loaded.reviews is msgspec.UNSET


def test_projections_fall_back_to_their_default_without_rows(products):
    lonely = make_product(products, "NONE")
    for profile in ("with_details", "with_counts", "with_snippets"):
        loaded = run(products.get_by_id(lonely.id, profile=profile))
        assert loaded.review_snippets in ([], msgspec.UNSET)
        if profile != "with_snippets":
            assert (loaded.count_reviews, loaded.has_reviews) == (0, False)


def test_join_fields_projection_without_its_relation(products, reviewed):
    loaded = run(products.get_by_id(reviewed.id, profile="with_snippets"))
    assert loaded.review_snippets == [{"rating": 5, "body": "r5"}, {"rating": 3, "body": "r3"}]
    assert loaded.reviews is msgspec.UNSET


def test_many_to_one_relation_is_joined(reviews, reviewed):
    review = run(reviews.get_by("product_id", reviewed.id, profile="with_product"))
    assert review.product == run(RepositoryDjango(Product).get_by_id(reviewed.id))


def test_one_to_many_relation_of_user_and_many_to_one_of_address(users, addresses):
    user = run(users.create({"full_name": "A", "email": "a@b.c"}))
    home = run(addresses.create({"user_id": user.id, "label": "home", "city": "Oslo"}))
    assert run(users.get_by_id(user.id, profile="with_addresses")).addresses == [home]
    assert run(addresses.get_by_id(home.id, profile="with_user")).user == user


def test_many_to_many_relation_loads_targets_through_the_link(products, tags):
    product = make_product(products, "TAGGED")
    red, blue = (run(tags.create({"name": n})) for n in ("red", "blue"))
    links = RepositoryDjango(ProductTag)
    for tag in (blue, red):
        run(links.create({"product_id": product.id, "tag_id": tag.id}))
    assert run(products.get_by_id(product.id, profile="with_tags")).tags == [blue, red]


def test_unknown_profile_is_a_validation_error(products, reviewed):
    with pytest.raises(ValidationError, match="Invalid profile 'nope'"):
        run(products.get_by_id(reviewed.id, profile="nope"))


def test_page_of_50_with_relation_and_projections_costs_three_queries(
    products, reviews, django_assert_num_queries
):
    for index in range(51):
        product = make_product(products, f"P{index:02}")
        run(reviews.create({"product_id": product.id, "rating": index % 5}))
    with django_assert_num_queries(3):
        page = run(products.list_with_query(QuerySpec(limit=50), profile="with_details"))
    assert len(page.items) == 50 and page.total_count == 51
    assert all(item.count_reviews == 1 and item.has_reviews for item in page.items)


def test_query_count_does_not_grow_with_the_page(products, reviews, django_assert_num_queries):
    created = 0
    for size in (2, 12):
        while created < size:
            product = make_product(products, f"P{created:02}")
            run(reviews.create({"product_id": product.id, "rating": 1}))
            created += 1
        with django_assert_num_queries(1):
            page = run(products.list_with_query(QuerySpec(limit=50), profile="with_counts"))
        with django_assert_num_queries(2):
            run(products.list_with_query(QuerySpec(limit=50), profile="with_details"))
        assert len(page.items) == size


def test_get_by_id_with_profile_uses_one_query_per_to_many_relation(
    products, reviewed, django_assert_num_queries
):
    with django_assert_num_queries(2):
        run(products.get_by_id(reviewed.id, profile="with_details"))
    with django_assert_num_queries(1):
        run(products.get_by_id(reviewed.id, profile="with_counts"))
