"""Client input never causes a 500 (issue 10 items 2-5): content types, nesting, numbers,
nulls, database errors, methods."""

from __future__ import annotations

import logging

import pytest

from tests.rest.conftest import body

pytestmark = pytest.mark.django_db
JSON = "application/json"
PRODUCT = {"sku": "S-1", "name": "Pen", "priceCents": 100, "stock": 3}


def _product(client, **extra):
    response = client.post("/products/", {**PRODUCT, **extra}, content_type=JSON)
    assert response.status_code == 201, response.content
    return body(response)


# -- item 2: content type --------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_non_json_body_is_refused_with_415(client, content_type):
    raw = b'{"sku": "S-9", "name": "Pen", "priceCents": 1, "stock": 1}'
    response = client.post("/products/", raw, content_type=content_type)
    assert response.status_code == 415
    detail = body(response)["detail"]
    assert detail["code"] == "unsupported_media_type"
    assert client.get("/products/").json()["totalCount"] == 0


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/x+json"]
)
def test_json_media_types_are_accepted(client, content_type):
    raw = b'{"sku": "S-9", "name": "Pen", "priceCents": 1, "stock": 1}'
    assert client.post("/products/", raw, content_type=content_type).status_code == 201


def test_a_body_without_content_type_is_still_read_as_json(client):
    raw = b'{"sku": "S-9", "name": "Pen", "priceCents": 1, "stock": 1}'
    response = client.generic("POST", "/products/", raw, content_type="")
    assert response.status_code == 201


# -- item 3: no 500 ----------------------------------------------------------------------


def test_deeply_nested_json_is_a_400(client):
    raw = b'{"sku": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = client.post("/products/", raw, content_type=JSON)
    assert response.status_code == 400
    assert body(response)["detail"]["message"] == "Request body is nested too deeply."


def test_a_path_integer_over_the_digit_limit_is_a_422_naming_it(client):
    response = client.get("/products/" + "9" * 5000)
    assert response.status_code == 422
    detail = body(response)["detail"]
    assert detail["code"] == "validation_error"
    assert detail["violations"][0]["field"] == "id"


def test_patch_null_on_a_not_null_column_is_a_422_naming_the_field(client):
    customer = body(
        client.post("/customers/", {"name": "Ann", "email": "ann@example.com"}, content_type=JSON)
    )
    response = client.patch(f"/customers/{customer['id']}", {"email": None}, content_type=JSON)
    assert response.status_code == 422
    assert body(response)["detail"]["violations"] == [
        {"field": "email", "message": "may not be null"}
    ]


def test_auto_patch_null_on_a_not_null_column_is_a_422_naming_the_field(client):
    product = _product(client)
    response = client.patch(f"/products/{product['id']}", {"stock": None}, content_type=JSON)
    assert response.status_code == 422
    assert body(response)["detail"]["violations"][0]["field"] == "stock"


def test_patch_null_on_a_nullable_column_writes_null(client):
    product = _product(client, note="hi")
    response = client.patch(f"/products/{product['id']}", {"note": None}, content_type=JSON)
    assert response.status_code == 200
    assert "note" not in body(response) or body(response)["note"] is None


def test_post_to_a_get_only_path_is_a_json_405(client):
    response = client.post("/ro-products/1", {}, content_type=JSON)
    assert response.status_code == 405
    assert body(response)["detail"]["code"] == "method_not_allowed"
    assert "HEAD" in response["Allow"]


def test_head_follows_get_without_a_body(client):
    product = _product(client)
    response = client.head(f"/products/{product['id']}")
    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Type"] == JSON
    assert client.head("/products/999999").status_code == 404


# -- item 4: canonical integers ----------------------------------------------------------


@pytest.mark.parametrize("raw", ["1.0", "1e0", "\uff11", "\u0661", " 1", "1_0", "0x1", "+1 "])
def test_non_canonical_path_ids_are_refused(client, raw):
    _product(client)
    response = client.get(f"/products/{raw}")
    assert response.status_code == 422, (raw, response.content)
    assert body(response)["detail"]["violations"][0]["field"] == "id"


def test_canonical_path_ids_are_read(client):
    product = _product(client)
    assert client.get(f"/products/{product['id']}").status_code == 200
    assert client.get(f"/products/+{product['id']}").status_code == 200
    assert client.get(f"/products/-{product['id']}").status_code == 404


@pytest.mark.parametrize(
    "query",
    ["limit=1_0", "page=%205", "page=1.0", "limit=%EF%BC%91", "limit=1e1", "page=%D9%A1"],
)
def test_non_canonical_query_integers_are_a_400(client, query):
    response = client.get(f"/products/?{query}")
    assert response.status_code == 400, (query, response.content)
    assert body(response)["detail"]["param"] in ("limit", "page")


@pytest.mark.parametrize("value", ["1_0", "%EF%BC%91", "1e0", "1.0"])
def test_non_canonical_integer_filters_are_a_400(client, value):
    response = client.get(f"/products/?stock={value}")
    assert response.status_code == 400
    assert body(response)["detail"]["param"] == "stock"


# -- item 5: error hygiene ---------------------------------------------------------------


def test_a_nul_byte_is_a_422_naming_the_field_without_database_text(client):
    response = client.post("/products/", {**PRODUCT, "name": "a\x00b"}, content_type=JSON)
    assert response.status_code == 422
    detail = body(response)["detail"]
    assert detail["violations"][0]["field"] == "name"
    assert "0x00" not in detail["message"] or "NUL" in detail["message"]


def test_a_nul_byte_in_a_filter_is_a_400(client):
    response = client.get("/products/?name=a%00b")
    assert response.status_code == 400
    assert body(response)["detail"]["param"] == "name"


def test_a_missing_foreign_row_names_the_field_and_logs_the_database_text(client, caplog):
    with caplog.at_level(logging.INFO, logger="loom_django.orm"):
        response = client.post(
            "/order-items/", {"orderId": 424242, "quantity": 1}, content_type=JSON
        )
    assert response.status_code == 409
    detail = body(response)["detail"]
    assert detail["message"].startswith("A referenced entity does not exist")
    for leak in ("Key (", "is not present", "table", "FOREIGN KEY", "constraint"):
        assert leak not in detail["message"]
    assert any(r.name == "loom_django.orm" for r in caplog.records)


def test_a_django_data_error_answers_a_stable_message():
    from django.db import DataError

    from loom_django.rest.errors import map_exception

    status, detail = map_exception(DataError('value "secret" out of range in table "t"'))
    assert status == 422
    assert "secret" not in detail["message"]
    assert detail["message"] == "A value is not valid for the database."
