"""Issue 11 item 5: the OpenAPI document validates and describes what the server does."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate

from tests.rest.conftest import body


def _schema(client) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return body(response)


def test_document_is_valid_openapi(client):
    validate(_schema(client))


def test_list_routes_have_a_response_schema(client):
    schema = _schema(client)
    ok = schema["paths"]["/products/"]["get"]["responses"]["200"]
    assert "content" in ok
    text = str(ok["content"]["application/json"]["schema"])
    assert "PageResult" in text or "CursorResult" in text


def test_ids_carry_no_null_default(client):
    components = _schema(client)["components"]["schemas"]
    for name, component in components.items():
        for prop, spec in component.get("properties", {}).items():
            if spec.get("default", 0) is None:
                assert {"type": "null"} in spec.get("anyOf", []), (name, prop)


def test_like_filters_are_offered_on_strings_only(client):
    filters = {
        f["field"]: f["operators"]
        for f in _schema(client)["paths"]["/products/"]["get"]["x-loom-filters"]
    }
    assert "like" in filters["name"]
    assert "like" not in filters["id"] and "ilike" not in filters["id"]


def test_error_statuses_are_per_route(client):
    paths = _schema(client)["paths"]
    create = paths["/products/"]["post"]["responses"]
    assert "404" not in create and "422" in create
    get = paths["/products/{id}"]["get"]["responses"]
    assert "404" in get and "409" not in get and "413" not in get


def test_docs_page_assets_are_served_locally(client):
    page = client.get("/docs").content.decode()
    assert "cdn.jsdelivr" not in page and "unpkg.com" not in page


def test_filters_are_declared_as_query_parameters(client):
    params = {
        p["name"]: p["schema"]
        for p in _schema(client)["paths"]["/products/"]["get"]["parameters"]
        if p["in"] == "query"
    }
    assert params["name__ilike"] == {"type": "string"}
    assert params["id__gte"]["type"] == "integer"
    assert params["id__is_null"] == {"type": "boolean"}
    assert "id__like" not in params


def test_request_schemas_carry_the_limits_the_server_enforces(client):
    schema = _schema(client)
    ref = schema["paths"]["/products/"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]["$ref"]
    create = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
    strings = [spec for spec in create.values() if spec.get("type") == "string"]
    assert strings and all("maxLength" in spec for spec in strings)
    integers = [spec for spec in create.values() if spec.get("type") == "integer"]
    assert all("maximum" in spec for spec in integers)
