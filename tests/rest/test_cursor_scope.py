"""Cursors are bound to their route and never carry hidden values (issue 10 item 6)."""

from __future__ import annotations

import pytest

from loom_django.core.errors import BadRequest
from loom_django.core.repository.abc.query import SortSpec
from loom_django.core.repository.cursor import cursor_scope, decode_cursor, encode_cursor
from tests.rest.conftest import body

pytestmark = pytest.mark.django_db
JSON = "application/json"


@pytest.fixture
def products(client):
    for n in range(3):
        payload = {"sku": f"S-{n}", "name": f"P{n}", "priceCents": 10 * n, "stock": n}
        assert client.post("/products/", payload, content_type=JSON).status_code == 201


def test_a_cursor_of_one_list_is_refused_by_another(client, products):
    first = body(client.get("/cursor-products/?limit=1"))
    token = first["nextCursor"]
    assert client.get(f"/cursor-products/?limit=1&after={token}").status_code == 200
    other = client.get(f"/products/?pagination=cursor&limit=1&after={token}")
    assert other.status_code == 400
    assert "Invalid cursor" in body(other)["detail"]["message"]


def test_a_cursor_issued_in_a_scope_is_only_read_in_it():
    order = (SortSpec("id", "ASC"),)
    with cursor_scope("GET /a/"):
        token = encode_cursor(order, [1])
        assert decode_cursor(token, order) == (1,)
    with cursor_scope("GET /b/"), pytest.raises(BadRequest, match="another list"):
        decode_cursor(token, order)
    with pytest.raises(BadRequest):
        decode_cursor(token, order)


def test_sorting_on_a_column_the_items_do_not_show_is_refused(client, products):
    for sort in ("priceCents", "price_cents", "stock", "-stock"):
        response = client.get(f"/product-names/?sort={sort}")
        assert response.status_code == 400, sort
        assert body(response)["detail"]["param"] == "sort"
    assert client.get("/product-names/?sort=name").status_code == 200


def test_filtering_on_a_column_the_items_do_not_show_is_refused(client, products):
    response = client.get("/product-names/?price_cents__gt=5")
    assert response.status_code == 400
    assert body(response)["detail"]["param"] == "price_cents__gt"
    shown = body(client.get("/product-names/?name=P1"))
    assert [item["name"] for item in shown["items"]] == ["P1"]
    assert set(shown["items"][0]) == {"id", "name"}
