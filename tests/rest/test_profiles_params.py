"""Profiles and parameter binding (spec/rest.md criteria 36-40)."""

from __future__ import annotations

import pytest

from tests.rest.conftest import body

pytestmark = pytest.mark.django_db
JSON = "application/json"


def _product_with_reviews(client) -> int:
    from loom_django.orm import django_model_for
    from tests.restapp.models import RestReview

    response = client.post(
        "/products/", {"sku": "P", "name": "P", "price_cents": 1, "stock": 1}, content_type=JSON
    )
    product_id = body(response)["id"]
    review = django_model_for(RestReview)
    review.objects.create(product_id=product_id, body="great")
    review.objects.create(product_id=product_id, body="fine")
    return product_id


def test_profile_with_details_adds_projections(client):
    product_id = _product_with_reviews(client)
    detailed = body(client.get(f"/products/{product_id}?profile=with_details"))
    assert detailed["hasReviews"] is True
    assert detailed["countReviews"] == 2
    assert sorted(s["body"] for s in detailed["reviewSnippets"]) == ["fine", "great"]
    plain = body(client.get(f"/products/{product_id}"))
    for key in ("hasReviews", "countReviews", "reviewSnippets", "reviews"):
        assert key not in plain


def test_invalid_profile_is_400(client):
    response = client.get("/products/1?profile=invalid")
    assert response.status_code == 400
    assert "Invalid profile 'invalid'" in body(response)["detail"]["message"]


def test_profile_on_route_not_exposing_profiles_is_400(client):
    response = client.get("/cursor-products/?profile=x")
    assert response.status_code == 400
    assert "is not allowed for this route" in body(response)["detail"]["message"]


def test_profile_on_post_is_400(client):
    response = client.post(
        "/products/?profile=with_details",
        {"sku": "X", "name": "X", "price_cents": 1, "stock": 1},
        content_type=JSON,
    )
    assert response.status_code == 400
    assert body(response)["detail"]["param"] == "profile"


def test_nested_create_binds_parent_and_guards_it(client):
    customer = body(
        client.post("/customers/", {"name": "Ann", "email": "ann@example.com"}, content_type=JSON)
    )
    created = client.post(
        f"/customers/{customer['id']}/addresses/", {"city": "Oslo"}, content_type=JSON
    )
    assert created.status_code == 201
    assert body(created)["customerId"] == customer["id"]
    missing = client.post("/customers/999/addresses/", {"city": "Oslo"}, content_type=JSON)
    assert missing.status_code == 404
    assert body(missing)["detail"]["entity"] == "RestCustomer"


def test_two_path_parameters_are_bound_as_ints(client):
    data = body(client.get("/customers/1/addresses/7"))
    assert data == {"customerId": 1, "addressId": 7}


def test_primitive_query_parameter_is_bound_not_filtered(client):
    for index, stock in enumerate((1, 3, 4, 6)):
        client.post(
            "/products/",
            {
                "sku": f"S{index}",
                "name": "x",
                "price_cents": 1,
                "stock": stock,
                "category": "a" if index < 2 else "b",
            },
            content_type=JSON,
        )
    assert body(client.get("/products/below-stock?max_stock=3"))["totalCount"] == 2
    assert body(client.get("/products/below-stock"))["totalCount"] == 3
    assert body(client.get("/products/below-stock?maxStock=3&category=b"))["totalCount"] == 0
    assert body(client.get("/products/below-stock?category=b"))["totalCount"] == 1
