"""The store contract (shared/spec/store.md) against the example project under uvicorn."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.rest.servers import Server, example_database, migrate, run_server

pytestmark = pytest.mark.slow
_n = itertools.count(1)


@pytest.fixture(scope="module")
def api() -> Iterator[Server]:
    with example_database() as url:
        migrate(url)
        with run_server("uvicorn", url) as server:
            yield server


def _user(api: Server) -> dict[str, Any]:
    n = next(_n)
    reply = api.post("/users/", {"full_name": f"User {n}", "email": f"user{n}@example.com"})
    assert reply.status == 201, reply.content
    return reply.json()


def _address(api: Server, user_id: int) -> dict[str, Any]:
    reply = api.post(
        f"/users/{user_id}/addresses/",
        {
            "label": "home",
            "street": "Main 1",
            "city": "Madrid",
            "country": "ES",
            "zipCode": "28001",
        },
    )
    assert reply.status == 201, reply.content
    return reply.json()


def _product(api: Server, **extra: Any) -> dict[str, Any]:
    n = next(_n)
    payload = {
        "sku": f"SKU-{n}",
        "name": f"Product {n}",
        "category": "peripherals",
        "price_cents": 9900,
        "stock": 10,
        **extra,
    }
    reply = api.post("/products/", payload)
    assert reply.status == 201, reply.content
    return reply.json()


def _order(api: Server, user_id: int, address_id: int, **extra: Any) -> dict[str, Any]:
    reply = api.post("/orders/", {"user_id": user_id, "address_id": address_id, **extra})
    assert reply.status == 201, reply.content
    return reply.json()


def _detail(reply: Any) -> dict[str, Any]:
    return reply.json()["detail"]


# -- users ------------------------------------------------------------------------------


def test_create_user_shape(api):
    user = _user(api)
    assert set(user) == {"id", "fullName", "email", "createdAt", "updatedAt"}
    assert user["createdAt"] == user["updatedAt"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", user["createdAt"])


def test_create_user_rules_in_order(api):
    existing = _user(api)
    reply = api.post("/users/", {"fullName": "  ", "email": "bad"})
    assert reply.status == 422
    assert [(v["field"], v["message"]) for v in _detail(reply)["violations"]] == [
        ("full_name", "full_name must not be blank"),
        ("email", "email must be valid"),
    ]
    taken = api.post("/users/", {"full_name": "X", "email": existing["email"]})
    assert _detail(taken)["violations"] == [
        {"field": "email_exists", "message": "email already exists"}
    ]


def test_update_user_404_first_then_rules(api):
    assert api.patch("/users/999999", {"full_name": " "}).status == 404
    one, two = _user(api), _user(api)
    blank = api.patch(f"/users/{one['id']}", {"full_name": " "})
    assert blank.status == 422
    taken = api.patch(f"/users/{one['id']}", {"email": two["email"]})
    assert _detail(taken)["violations"] == [
        {"field": "current_user", "message": "email already exists"}
    ]
    own = api.patch(f"/users/{one['id']}", {"email": one["email"]})
    assert own.status == 200
    assert own.json()["updatedAt"] > one["updatedAt"]
    assert own.json()["createdAt"] == one["createdAt"]


def test_get_and_list_users(api):
    user = _user(api)
    assert api.get(f"/users/{user['id']}").json() == user
    missing = api.get("/users/999999")
    assert missing.status == 404
    assert _detail(missing)["message"] == "User with id=999999 not found"
    page = api.get("/users/?limit=1&page=1&sort=id&direction=ASC").json()
    assert set(page) == {"items", "totalCount", "page", "limit", "hasNext"}
    assert page["limit"] == 1


def test_delete_user_cascades(api):
    user = _user(api)
    address = _address(api, user["id"])
    order = _order(api, user["id"], address["id"])
    reply = api.delete(f"/users/{user['id']}")
    assert reply.status == 200 and reply.content == b"true"
    assert api.get(f"/users/{user['id']}").status == 404
    assert api.get(f"/orders/{order['id']}").status == 404
    assert api.delete(f"/users/{user['id']}").status == 404


def test_bad_path_parameter_is_422(api):
    reply = api.get("/users/abc")
    assert reply.status == 422
    assert _detail(reply)["violations"][0]["field"] == "user_id"


# -- addresses --------------------------------------------------------------------------


def test_address_create_and_parent_guard(api):
    user = _user(api)
    address = _address(api, user["id"])
    assert set(address) == {"id", "userId", "label", "street", "city", "country", "zipCode"}
    assert address["userId"] == user["id"]
    missing = api.post(
        "/users/999999/addresses/",
        {"label": "a", "street": "b", "city": "c", "country": "d", "zip_code": "e"},
    )
    assert missing.status == 404
    assert _detail(missing)["entity"] == "User"


def test_address_owner_comes_from_path(api):
    one, two = _user(api), _user(api)
    reply = api.post(
        f"/users/{one['id']}/addresses/",
        {
            "label": "x",
            "street": "s",
            "city": "c",
            "country": "ES",
            "zip_code": "1",
            "user_id": two["id"],
        },
    )
    assert reply.json()["userId"] == one["id"]


def test_address_list_is_scoped(api):
    one, two = _user(api), _user(api)
    _address(api, one["id"])
    _address(api, one["id"])
    _address(api, two["id"])
    page = api.get(f"/users/{one['id']}/addresses/").json()
    assert page["totalCount"] == 2
    assert {a["userId"] for a in page["items"]} == {one["id"]}
    assert api.get("/users/999999/addresses/").json()["items"] == []


def test_address_of_another_user_is_404_address(api):
    one, two = _user(api), _user(api)
    address = _address(api, one["id"])
    for method in ("get", "patch", "delete"):
        reply = getattr(api, method)(
            f"/users/{two['id']}/addresses/{address['id']}",
            **({"payload": {"city": "X"}} if method == "patch" else {}),
        )
        assert reply.status == 404
        assert _detail(reply)["entity"] == "Address"
    patched = api.patch(f"/users/{one['id']}/addresses/{address['id']}", {"city": "Sevilla"})
    assert patched.json()["city"] == "Sevilla"
    assert api.delete(f"/users/{one['id']}/addresses/{address['id']}").content == b"true"
    again = api.delete(f"/users/{one['id']}/addresses/{address['id']}")
    assert again.status == 404 and _detail(again)["entity"] == "Address"


# -- products ---------------------------------------------------------------------------


def test_product_shape_and_duplicate_sku(api):
    product = _product(api)
    assert set(product) == {
        "id",
        "sku",
        "name",
        "category",
        "priceCents",
        "stock",
        "createdAt",
        "updatedAt",
    }
    dup = api.post(
        "/products/",
        {"sku": product["sku"], "name": "n", "category": "c", "price_cents": 1, "stock": 1},
    )
    assert dup.status == 409
    assert _detail(dup)["code"] == "conflict"
    other = _product(api)
    clash = api.patch(f"/products/{other['id']}", {"sku": product["sku"]})
    assert clash.status == 409


def test_products_default_to_cursor_pages(api):
    _product(api)
    _product(api)
    first = api.get("/products/?limit=1&sort=id&direction=ASC").json()
    assert set(first) == {"items", "nextCursor", "hasNext"}
    assert first["hasNext"] is True
    nxt = api.get(f"/products/?limit=1&sort=id&direction=ASC&after={first['nextCursor']}").json()
    assert nxt["items"][0]["id"] > first["items"][0]["id"]
    offset = api.get("/products/?pagination=offset&limit=1").json()
    assert "totalCount" in offset


def test_product_filters(api):
    product = _product(api, category="store-filter", stock=3)
    page = api.get("/products/?category__eq=store-filter&stock__lte=10&sort=id&direction=ASC")
    assert [p["id"] for p in page.json()["items"]] == [product["id"]]
    by_price = api.get(f"/products/?price_cents__eq=9900&sku={product['sku']}")
    assert [p["id"] for p in by_price.json()["items"]] == [product["id"]]


def test_low_stock(api):
    low = _product(api, stock=0)
    page = api.get("/products/low-stock").json()
    assert page["page"] == 1 and page["limit"] == 20
    assert all(p["stock"] <= 5 for p in page["items"])
    assert low["id"] in [p["id"] for p in page["items"]]
    stocks = [(p["stock"], p["id"]) for p in page["items"]]
    assert stocks == sorted(stocks)


def test_delete_product(api):
    product = _product(api)
    assert api.delete(f"/products/{product['id']}").content == b"true"
    missing = api.delete(f"/products/{product['id']}")
    assert missing.status == 404 and _detail(missing)["entity"] == "Product"


def test_pricing_preview_computes_then_rules(api):
    product = _product(api)
    ok = api.post(
        f"/products/{product['id']}/pricing-preview",
        {
            "email": "  Ann@Example.COM ",
            "unit_price": 10.0,
            "quantity": 3,
            "tax_rate": 0.2,
            "country": "FR",
        },
    )
    assert ok.status == 200
    data = ok.json()
    assert data["normalizedEmail"] == "ann@example.com"
    assert data["subtotal"] == 30.0
    assert data["taxAmount"] == pytest.approx(6.0)
    bad = api.post(
        f"/products/{product['id']}/pricing-preview",
        {
            "email": "a@b.c",
            "unit_price": 0,
            "quantity": 1,
            "tax_rate": 0.2,
            "country": "XX",
        },
    )
    assert bad.status == 422
    assert [v["field"] for v in _detail(bad)["violations"]] == ["unit_price", "country"]


# -- orders and items -------------------------------------------------------------------


def test_create_order_check_order(api):
    user = _user(api)
    address = _address(api, user["id"])
    assert (
        _detail(api.post("/orders/", {"user_id": 999999, "address_id": 999999, "status": "bogus"}))[
            "entity"
        ]
        == "User"
    )
    assert (
        _detail(
            api.post("/orders/", {"user_id": user["id"], "address_id": 999999, "status": "bogus"})
        )["entity"]
        == "Address"
    )
    bad = api.post(
        "/orders/", {"user_id": user["id"], "address_id": address["id"], "status": "bogus"}
    )
    assert bad.status == 422
    assert _detail(bad)["violations"] == [
        {"field": "status", "message": "status must be one of: cancelled, created, paid, shipped"}
    ]
    order = _order(api, user["id"], address["id"])
    assert (order["status"], order["paymentMethod"]) == ("created", "card")
    assert set(order) == {
        "id",
        "userId",
        "addressId",
        "status",
        "paymentMethod",
        "createdAt",
        "updatedAt",
    }


def test_create_order_refuses_another_users_address(api):
    owner, other = _user(api), _user(api)
    address = _address(api, owner["id"])
    reply = api.post("/orders/", {"user_id": other["id"], "address_id": address["id"]})
    assert reply.status == 404
    assert (_detail(reply)["entity"], _detail(reply)["id"]) == ("Address", address["id"])
    listed = api.get(f"/orders/?user_id={other['id']}").json()
    assert listed["totalCount"] == 0


def test_update_order_rules_before_404(api):
    assert api.patch("/orders/999999", {"status": "bogus"}).status == 422
    assert api.patch("/orders/999999", {"status": "paid"}).status == 404
    user = _user(api)
    order = _order(api, user["id"], _address(api, user["id"])["id"])
    assert api.patch(f"/orders/{order['id']}", {"status": "paid"}).json()["status"] == "paid"


def test_orders_offset_list_and_filters(api):
    user = _user(api)
    _order(api, user["id"], _address(api, user["id"])["id"])
    page = api.get(
        f"/orders/?status__eq=created&userId={user['id']}&limit=10&page=1&sort=id&direction=ASC"
    ).json()
    assert page["totalCount"] == 1 and page["page"] == 1 and page["limit"] == 10


def test_order_items_rules_and_guards(api):
    user = _user(api)
    order = _order(api, user["id"], _address(api, user["id"])["id"])
    product = _product(api)
    assert (
        _detail(
            api.post(
                "/order-items/",
                {
                    "order_id": 999999,
                    "product_id": product["id"],
                    "quantity": 0,
                    "unit_price_cents": -1,
                },
            )
        )["entity"]
        == "Order"
    )
    assert (
        _detail(
            api.post(
                "/order-items/",
                {
                    "order_id": order["id"],
                    "product_id": 999999,
                    "quantity": 0,
                    "unit_price_cents": -1,
                },
            )
        )["entity"]
        == "Product"
    )
    bad = api.post(
        "/order-items/",
        {
            "order_id": order["id"],
            "product_id": product["id"],
            "quantity": 0,
            "unit_price_cents": -1,
        },
    )
    assert [v["field"] for v in _detail(bad)["violations"]] == ["quantity", "unit_price_cents"]
    item = api.post(
        "/order-items/",
        {"orderId": order["id"], "productId": product["id"], "quantity": 2, "unitPriceCents": 500},
    )
    assert item.status == 201
    assert set(item.json()) == {"id", "orderId", "productId", "quantity", "unitPriceCents"}
    item_id = item.json()["id"]
    assert api.patch("/order-items/999999", {"quantity": 0}).status == 422
    assert api.patch("/order-items/999999", {"quantity": 3}).status == 404
    assert api.patch(f"/order-items/{item_id}", {"quantity": 3}).json()["quantity"] == 3
    assert api.get(f"/order-items/{item_id}").status == 200
    assert api.delete(f"/orders/{order['id']}").content == b"true"
    assert api.get(f"/order-items/{item_id}").status == 404


# -- conventions, errors, docs ----------------------------------------------------------


def test_list_parameter_errors(api):
    direction = api.get("/users/?direction=sideways")
    assert direction.status == 400
    assert _detail(direction)["message"] == "direction must be 'ASC' or 'DESC'."
    mode = api.get("/users/?pagination=Bogus")
    assert _detail(mode)["message"] == "Invalid pagination mode: 'Bogus'."
    profile = api.get("/users/?profile=x")
    assert _detail(profile)["message"] == "Query parameter 'profile' is not allowed for this route."


def test_trace_id_header(api):
    reply = api.get("/users/999999", headers={"X-Request-ID": "abc123"})
    assert reply.headers["x-request-id"] == "abc123"
    assert _detail(reply)["trace_id"] == "abc123"
    generated = api.get("/users/999999")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])


def test_unknown_path_and_wrong_method(api):
    assert api.get("/nope").status == 404
    wrong = api.request("PUT", "/users/")
    assert wrong.status == 405
    assert _detail(wrong)["code"] == "method_not_allowed"


def test_docs_pages(api):
    assert api.get("/docs").status == 200
    assert api.get("/redoc").status == 200
    schema = api.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert "/api/products/{product_id}/pricing-preview" in schema["paths"]


def test_openapi_title_is_the_store_contracts(api):
    reply = api.get("/openapi.json")
    assert reply.status == 200
    assert reply.json()["info"]["title"] == "Dummy Store API"
