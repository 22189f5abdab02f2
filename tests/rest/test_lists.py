"""Lists, filters, sorting and pagination (spec/rest.md criteria 23-35)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.rest.conftest import body

pytestmark = pytest.mark.django_db
JSON = "application/json"


def _seed(client, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    created = []
    for index, row in enumerate(rows):
        payload = {
            "sku": f"SKU-{index}",
            "name": f"Item {index}",
            "price_cents": 100,
            "stock": 10,
            **row,
        }
        response = client.post("/products/", payload, content_type=JSON)
        assert response.status_code == 201, response.content
        created.append(body(response))
    return created


def test_offset_list_envelope(client):
    _seed(client, [{}, {}, {}])
    data = body(client.get("/products/"))
    assert len(data["items"]) == 3
    assert {k: v for k, v in data.items() if k != "items"} == {
        "totalCount": 3,
        "page": 1,
        "limit": 50,
        "hasNext": False,
    }


def test_filter_limit_page_sort(client):
    rows = _seed(client, [{"price": 10}, {"price": 20}, {"price": 20}])
    data = body(client.get("/products/?price__eq=20&limit=1&page=1&sort=id&direction=ASC"))
    assert [item["id"] for item in data["items"]] == [rows[1]["id"]]
    assert data["totalCount"] == 2
    assert data["hasNext"] is True


def test_filters_are_anded_in_and_ilike(client):
    rows = _seed(
        client,
        [
            {"category": "peripherals", "stock": 5, "price": 10, "name": "Keyboard"},
            {"category": "peripherals", "stock": 50, "price": 20, "name": "Mouse"},
            {"category": "audio", "stock": 5, "price": 30, "name": "Speaker"},
        ],
    )
    both = body(client.get("/products/?category__eq=peripherals&stock__lte=10"))
    assert [i["id"] for i in both["items"]] == [rows[0]["id"]]
    either = body(client.get("/products/?price__in=10,20&sort=id"))
    assert [i["id"] for i in either["items"]] == [rows[0]["id"], rows[1]["id"]]
    like = body(client.get("/products/?name__ilike=%25KEY%25"))
    assert [i["id"] for i in like["items"]] == [rows[0]["id"]]


def test_camel_case_filter_and_sort_names(client):
    _seed(client, [{"price_cents": 50}, {"price_cents": 150}, {"price_cents": 250}])
    camel = body(client.get("/products/?priceCents__gte=100"))
    snake = body(client.get("/products/?price_cents__gte=100"))
    assert camel == snake
    assert camel["totalCount"] == 2
    assert body(client.get("/products/?sort=createdAt")) == body(
        client.get("/products/?sort=created_at")
    )


def test_bad_direction_is_400(client):
    response = client.get("/products/?direction=sideways")
    assert response.status_code == 400
    detail = body(response)["detail"]
    assert detail["code"] == "bad_request"
    assert detail["message"] == "direction must be 'ASC' or 'DESC'."


def test_cursor_pagination_walks_pages(client):
    rows = _seed(client, [{}, {}, {}])
    first = body(client.get("/cursor-products/?limit=1&sort=id&direction=ASC"))
    assert [i["id"] for i in first["items"]] == [rows[0]["id"]]
    assert first["hasNext"] is True and isinstance(first["nextCursor"], str)
    assert set(first) == {"items", "nextCursor", "hasNext"}
    second = body(
        client.get(f"/cursor-products/?limit=1&sort=id&direction=ASC&after={first['nextCursor']}")
    )
    assert [i["id"] for i in second["items"]] == [rows[1]["id"]]
    third = body(
        client.get(f"/cursor-products/?limit=1&sort=id&direction=ASC&after={second['nextCursor']}")
    )
    assert [i["id"] for i in third["items"]] == [rows[2]["id"]]
    assert third["nextCursor"] is None and third["hasNext"] is False


def test_cursor_alias_and_token_switches_offset_route_to_cursor(client):
    rows = _seed(client, [{}, {}])
    first = body(client.get("/products/?pagination=cursor&limit=1&sort=id"))
    token = first["nextCursor"]
    via_after = body(client.get(f"/products/?pagination=cursor&limit=1&sort=id&after={token}"))
    via_cursor = body(client.get(f"/products/?pagination=cursor&limit=1&sort=id&cursor={token}"))
    assert via_after == via_cursor
    switched = body(client.get(f"/products/?limit=1&sort=id&after={token}"))
    assert switched == via_after
    assert [i["id"] for i in switched["items"]] == [rows[1]["id"]]


def test_pagination_override_allowed_and_refused(client):
    _seed(client, [{}])
    allowed = body(client.get("/products/?pagination=cursor"))
    assert set(allowed) == {"items", "nextCursor", "hasNext"}
    refused = client.get("/fixed-products/?pagination=cursor")
    assert refused.status_code == 400
    assert "cannot override" in body(refused)["detail"]["message"]
    fixed = client.get("/fixed-products/?after=x")
    assert fixed.status_code == 400
    assert "fixed to 'offset'" in body(fixed)["detail"]["message"]


def test_invalid_pagination_mode_is_400(client):
    response = client.get("/products/?pagination=bogus")
    assert response.status_code == 400
    assert body(response)["detail"]["message"] == "Invalid pagination mode: 'bogus'."


def test_desc_cursor_over_duplicates_visits_every_row_once(client):
    rows = _seed(client, [{"stock": s} for s in (5, 3, 5, 1, 3, 5, 2)])
    seen: list[int] = []
    url = "/cursor-products/?limit=2&sort=stock&direction=DESC"
    token = None
    for _ in range(10):
        data = body(client.get(url + (f"&after={token}" if token else "")))
        seen += [i["id"] for i in data["items"]]
        token = data["nextCursor"]
        if not data["hasNext"]:
            break
    assert sorted(seen) == sorted(r["id"] for r in rows)
    assert len(seen) == len(set(seen))
    stocks = {r["id"]: r["stock"] for r in rows}
    assert [stocks[i] for i in seen] == sorted(stocks.values(), reverse=True)


@pytest.mark.parametrize("query", ["after=tampered-token", "limit=0", "limit=abc", "page=0"])
def test_bad_paging_parameters_are_400(client, query):
    _seed(client, [{}])
    response = client.get(f"/products/?{query}")
    assert response.status_code == 400
    assert body(response)["detail"]["code"] == "bad_request"


def test_limit_is_clamped_to_max(client):
    _seed(client, [{}])
    data = body(client.get("/products/?limit=5000"))
    assert data["limit"] == 1000
    assert len(data["items"]) <= 1000


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/products/?colour__eq=red", "colour"),
        ("/allowlist-products/?name__eq=x", "name"),
        ("/allowlist-products/?sort=name", "name"),
        ("/products/?sort=colour", "colour"),
    ],
)
def test_unknown_or_undeclared_fields_are_400_naming_them(client, url, field):
    response = client.get(url)
    assert response.status_code == 400
    assert field in body(response)["detail"]["message"]


def test_allowlisted_fields_are_accepted(client):
    _seed(client, [{"category": "a", "stock": 1}, {"category": "b", "stock": 2}])
    data = body(client.get("/allowlist-products/?category=a&sort=stock"))
    assert data["totalCount"] == 1


def test_page_past_end_keeps_true_total(client):
    _seed(client, [{}, {}])
    data = body(client.get("/products/?page=99&limit=1"))
    assert data["items"] == []
    assert data["totalCount"] == 2
    assert data["hasNext"] is False


def test_values_are_coerced_with_column_type(client):
    rows = _seed(client, [{"sku": "007"}, {"sku": "7"}])
    data = body(client.get("/products/?sku__eq=007"))
    assert [i["id"] for i in data["items"]] == [rows[0]["id"]]


def test_repeated_filter_key_applies_every_value(client):
    rows = _seed(client, [{"stock": 1}, {"stock": 5}, {"stock": 9}])
    data = body(client.get("/products/?stock__gte=2&stock__gte=4&stock__lte=6"))
    assert [i["id"] for i in data["items"]] == [rows[1]["id"]]


def test_multi_field_sort_with_minus_prefix(client):
    rows = _seed(client, [{"stock": 1}, {"stock": 2}, {"stock": 2}])
    data = body(client.get("/products/?sort=-stock,id"))
    assert [i["id"] for i in data["items"]] == [rows[1]["id"], rows[2]["id"], rows[0]["id"]]


def test_bad_filter_value_for_column_type_is_400(client):
    response = client.get("/products/?stock__eq=lots")
    assert response.status_code == 400
    assert body(response)["detail"]["param"] == "stock__eq"


def test_filter_key_without_field_is_400(client):
    response = client.get("/products/?__eq=1")
    assert response.status_code == 400
    assert body(response)["detail"]["message"] == "Invalid filter field: '__eq'."


def test_count_false_skips_the_total_and_still_reports_has_next(client, django_assert_num_queries):
    _seed(client, [{}, {}, {}])
    with django_assert_num_queries(1):
        first = body(client.get("/products/?limit=2&count=false"))
    assert first["totalCount"] is None
    assert first["hasNext"] is True
    assert len(first["items"]) == 2
    last = body(client.get("/products/?limit=2&page=2&count=false"))
    assert (len(last["items"]), last["hasNext"], last["totalCount"]) == (1, False, None)


def test_count_must_be_a_boolean(client):
    response = client.get("/products/?count=maybe")
    assert response.status_code == 400
    assert "count" in body(response)["detail"]["message"]
