"""Routes and compilation outcomes visible over HTTP (spec/rest.md criteria 1-9, 49, 54)."""

from __future__ import annotations

import pytest

from loom_django.rest.autocrud import build_auto_routes, interface_routes
from loom_django.rest.ninja import get_api
from tests.rest.conftest import body
from tests.restapp.interfaces import ProductInterface, ReadOnlyProductInterface
from tests.restapp.models import RestProduct

pytestmark = pytest.mark.django_db

NEW = {"sku": "SKU-001", "name": "Keyboard", "price_cents": 9900, "stock": 10}


def _operations(prefix: str) -> set[tuple[str, str]]:
    schema = get_api().get_openapi_schema(path_prefix="")
    return {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        if path.startswith(prefix + "/") or path == prefix
        for method in item
    }


def test_auto_interface_exposes_exactly_five_operations():
    from tests.restapp.interfaces import OrderInterface

    assert _operations("/orders") == {
        ("POST", "/orders/"),
        ("GET", "/orders/{id}"),
        ("GET", "/orders/"),
        ("PATCH", "/orders/{id}"),
        ("DELETE", "/orders/{id}"),
    }
    assert [(r.method, r.path) for r in interface_routes(OrderInterface)] == [
        ("POST", "/"),
        ("GET", "/{id}"),
        ("GET", "/"),
        ("PATCH", "/{id}"),
        ("DELETE", "/{id}"),
    ]


def test_include_exposes_only_selected_operations_and_post_is_405(client):
    assert {m for m, _ in _operations("/ro-products")} == {"GET"}
    assert len(interface_routes(ReadOnlyProductInterface)) == 2
    response = client.post("/ro-products/", NEW, content_type="application/json")
    assert response.status_code == 405
    assert body(response)["detail"]["code"] == "method_not_allowed"


def test_build_auto_routes_statuses_and_shared_classes():
    first = build_auto_routes(RestProduct, ())
    second = build_auto_routes(RestProduct, ())
    assert {r.method: r.status_code for r in first if r.path == "/"} == {"POST": 201, "GET": 200}
    assert all(r.status_code == 200 for r in first if r.method != "POST")
    assert [r.use_case for r in first] == [r.use_case for r in second]
    from tests.restapp.interfaces import AsyncProductInterface

    assert {r.use_case for r in interface_routes(AsyncProductInterface)} == {
        r.use_case for r in first
    }


def test_explicit_route_overrides_auto_route_and_others_remain(client):
    created = body(client.post("/products/", NEW, content_type="application/json"))
    response = client.get(f"/override-products/{created['id']}")
    assert body(response) == {"overridden": True, "id": created["id"], "found": True}
    assert {m for m, _ in _operations("/override-products")} == {"GET", "POST", "PATCH", "DELETE"}
    assert len(_operations("/override-products")) == 5


def test_literal_segment_wins_over_placeholder_declared_earlier(client):
    routes = [(r.method, r.path) for r in interface_routes(ProductInterface)]
    assert routes.index(("GET", "/{id}")) < routes.index(("GET", "/low-stock"))
    response = client.get("/products/low-stock")
    assert response.status_code == 200
    assert set(body(response)) == {"items", "totalCount", "page", "limit", "hasNext"}


def test_status_code_202_is_used(client):
    response = client.post("/products/7/jobs", {}, content_type="application/json")
    assert response.status_code == 202
    assert body(response) == {"jobId": "job-7", "queue": "default"}


def test_status_code_204_has_empty_body(client):
    response = client.post("/products/7/touch")
    assert response.status_code == 204
    assert response.content == b""


def test_unknown_path_under_mount_is_json_404(client):
    response = client.get("/no-such-path")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert body(response)["detail"]["code"] == "not_found"
    assert "entity" not in body(response)["detail"]


def test_api_mounted_under_prefix_serves_auto_routes(client):
    response = client.post("/api/products/", NEW, content_type="application/json")
    assert response.status_code == 201
    assert client.get(f"/api/products/{body(response)['id']}").status_code == 200


def test_collection_route_answers_without_trailing_slash(client):
    response = client.get("/products?limit=2")
    assert response.status_code == 200
    assert "items" in body(response)


def test_none_result_is_200_null(client):
    response = client.get("/products/nothing")
    assert response.status_code == 200
    assert response.content == b"null"
