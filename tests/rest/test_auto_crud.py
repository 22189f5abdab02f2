"""Auto-CRUD behaviour over HTTP (spec/rest.md criteria 10-22)."""

from __future__ import annotations

import time

import pytest

from tests.rest.conftest import body

pytestmark = pytest.mark.django_db

NEW = {"sku": "SKU-001", "name": "Keyboard", "price_cents": 9900, "stock": 10}
JSON = "application/json"


def _create(client, **overrides):
    response = client.post("/products/", {**NEW, **overrides}, content_type=JSON)
    assert response.status_code == 201, response.content
    return body(response)


def test_create_returns_201_with_camel_case_object(client):
    response = client.post("/products/", NEW, content_type=JSON)
    assert response.status_code == 201
    data = body(response)
    assert isinstance(data["id"], int)
    assert (data["sku"], data["name"], data["priceCents"], data["stock"]) == (
        "SKU-001",
        "Keyboard",
        9900,
        10,
    )
    assert data["createdAt"] and data["updatedAt"]
    assert data["createdAt"].endswith("Z")


def test_create_accepts_camel_case_keys(client):
    snake = _create(client)
    camel = body(
        client.post(
            "/products/",
            {"sku": "SKU-002", "name": "Keyboard", "priceCents": 9900, "stock": 10},
            content_type=JSON,
        )
    )
    for key in ("name", "priceCents", "stock", "category", "price", "note"):
        assert camel[key] == snake[key]


def test_create_ignores_id_and_timestamps(client):
    data = _create(client, id=99, createdAt="2000-01-01T00:00:00Z")
    assert data["id"] != 99
    assert not data["createdAt"].startswith("2000")


def test_create_missing_field_is_422_naming_it(client):
    payload = {k: v for k, v in NEW.items() if k != "stock"}
    response = client.post("/products/", payload, content_type=JSON)
    assert response.status_code == 422
    detail = body(response)["detail"]
    assert detail["code"] == "validation_error"
    assert any(v["field"] == "stock" for v in detail["violations"])


def test_create_wrong_type_is_422(client):
    response = client.post("/products/", {**NEW, "price_cents": "lots"}, content_type=JSON)
    assert response.status_code == 422
    assert body(response)["detail"]["code"] == "validation_error"


def test_create_invalid_json_is_400(client):
    response = client.post("/products/", "{not json", content_type=JSON)
    assert response.status_code == 400
    assert body(response)["detail"]["code"] == "bad_request"


def test_create_empty_body_is_422_listing_missing_fields(client):
    response = client.post("/products/", "", content_type=JSON)
    assert response.status_code == 422
    fields = {v["field"] for v in body(response)["detail"]["violations"]}
    assert {"sku", "name", "priceCents", "stock"} <= fields


def test_create_non_object_body_is_422(client):
    response = client.post("/products/", "[1, 2]", content_type=JSON)
    assert response.status_code == 422


def test_duplicate_sku_is_409_conflict(client):
    _create(client)
    response = client.post("/products/", NEW, content_type=JSON)
    assert response.status_code == 409
    detail = body(response)["detail"]
    assert detail["code"] == "conflict"
    assert detail["message"].startswith("A record with these values already exists")


def test_get_returns_object_and_missing_is_404_envelope(client):
    created = _create(client)
    assert body(client.get(f"/products/{created['id']}")) == created
    response = client.get("/products/999", HTTP_X_REQUEST_ID="trace-999")
    assert response.status_code == 404
    assert body(response) == {
        "detail": {
            "code": "not_found",
            "message": "RestProduct with id=999 not found",
            "trace_id": "trace-999",
            "entity": "RestProduct",
            "id": 999,
        }
    }


def test_get_non_integer_id_is_422_naming_id(client):
    response = client.get("/products/abc")
    assert response.status_code == 422
    detail = body(response)["detail"]
    assert detail["code"] == "validation_error"
    assert [v["field"] for v in detail["violations"]] == ["id"]


def test_patch_changes_only_sent_fields_and_bumps_updated_at(client):
    created = _create(client)
    time.sleep(0.002)
    response = client.patch(f"/products/{created['id']}", {"stock": 80}, content_type=JSON)
    assert response.status_code == 200
    data = body(response)
    assert data["stock"] == 80
    for key in ("sku", "name", "priceCents", "createdAt"):
        assert data[key] == created[key]
    assert data["updatedAt"] > created["updatedAt"]


def test_patch_missing_is_404(client):
    response = client.patch("/products/999", {"stock": 1}, content_type=JSON)
    assert response.status_code == 404


def test_patch_empty_object_changes_only_updated_at(client):
    created = _create(client)
    time.sleep(0.002)
    data = body(client.patch(f"/products/{created['id']}", {}, content_type=JSON))
    assert {k: v for k, v in data.items() if k != "updatedAt"} == {
        k: v for k, v in created.items() if k != "updatedAt"
    }
    assert data["updatedAt"] > created["updatedAt"]


def test_patch_null_for_non_nullable_is_422(client):
    created = _create(client)
    response = client.patch(f"/products/{created['id']}", {"name": None}, content_type=JSON)
    assert response.status_code == 422


def test_patch_null_for_nullable_sets_null(client):
    created = _create(client, note="hello")
    assert created["note"] == "hello"
    data = body(client.patch(f"/products/{created['id']}", {"note": None}, content_type=JSON))
    assert data["note"] is None
    assert body(client.get(f"/products/{created['id']}"))["note"] is None


def test_delete_returns_true_then_get_is_404(client):
    created = _create(client)
    response = client.delete(f"/products/{created['id']}")
    assert response.status_code == 200
    assert response.content == b"true"
    assert client.get(f"/products/{created['id']}").status_code == 404


def test_delete_missing_is_404(client):
    response = client.delete("/products/999")
    assert response.status_code == 404
    assert body(response)["detail"]["code"] == "not_found"


def test_delete_restricted_parent_is_409_and_deletes_nothing(client):
    customer = body(
        client.post("/customers/", {"name": "Ann", "email": "ann@example.com"}, content_type=JSON)
    )
    order = client.post("/orders/", {"customer_id": customer["id"]}, content_type=JSON)
    assert order.status_code == 201, order.content
    response = client.delete(f"/customers/{customer['id']}")
    assert response.status_code == 409
    assert body(response)["detail"]["code"] == "conflict"
    assert client.get(f"/customers/{customer['id']}").status_code == 200
    assert client.get(f"/orders/{body(order)['id']}").status_code == 200


def test_auto_delete_status_204(serve):
    from loom_django.rest.config import RestConfig
    from tests.restapp.interfaces import ProductInterface

    client = serve([ProductInterface], RestConfig(auto_delete_status=204))
    created = _create(client)
    response = client.delete(f"/products/{created['id']}")
    assert response.status_code == 204
    assert response.content == b""
