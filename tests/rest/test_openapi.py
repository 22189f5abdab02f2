"""OpenAPI generated from the msgspec types (spec/rest.md criteria 55-58)."""

from __future__ import annotations

from typing import Any

import pytest

from loom_django.rest.config import RestConfig
from loom_django.rest.ninja import get_api
from tests.rest.conftest import body


def _schema(client) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return body(response)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_every_route_is_listed_with_tags(client):
    schema = _schema(client)
    api = get_api()
    for route in api.loom_routes:
        operation = schema["paths"][route.full_path][route.method.lower()]
        assert operation.get("tags", []) == list(route.interface_tags)
    assert schema["paths"]["/products/low-stock"]["get"]["tags"] == ["Products"]


def test_list_operation_documents_paging_parameters(client):
    schema = _schema(client)
    params = {p["name"]: p for p in schema["paths"]["/products/"]["get"]["parameters"]}
    assert {"page", "limit", "pagination", "after", "cursor", "sort", "direction"} <= set(params)
    assert params["pagination"]["schema"]["default"] == "offset"
    cursor_params = {
        p["name"]: p for p in schema["paths"]["/cursor-products/"]["get"]["parameters"]
    }
    assert cursor_params["pagination"]["schema"]["default"] == "cursor"
    assert params["direction"]["schema"]["enum"] == ["ASC", "DESC"]
    assert "x-loom-filters" in schema["paths"]["/products/"]["get"]


def test_get_id_parameter_is_integer(client):
    schema = _schema(client)
    (param,) = [
        p for p in schema["paths"]["/products/{id}"]["get"]["parameters"] if p["in"] == "path"
    ]
    assert param["name"] == "id"
    assert param["schema"]["type"] == "integer"


def test_internal_fields_are_hidden_and_patch_fields_optional_nullable(client):
    schema = _schema(client)
    components = schema["components"]["schemas"]
    create_ref = schema["paths"]["/customers/"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["$ref"]
    create = components[create_ref.rsplit("/", 1)[1]]
    assert "tenantId" not in create["properties"]
    assert "tenant_id" not in create["properties"]
    patch_ref = schema["paths"]["/customers/{id}"]["patch"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["$ref"]
    patch = components[patch_ref.rsplit("/", 1)[1]]
    assert "name" not in patch.get("required", [])
    assert {"type": "null"} in patch["properties"]["name"]["anyOf"]


def test_docstring_summary_and_201_only(client):
    schema = _schema(client)
    create = schema["paths"]["/products/"]["post"]
    assert create["summary"] == "Create a new RestProduct."
    assert "201" in create["responses"]
    assert "200" not in create["responses"]


def test_all_refs_resolve(client):
    schema = _schema(client)
    components = schema["components"]["schemas"]
    refs = _refs(schema)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in components


def test_swagger_ui_is_served_at_docs(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


@pytest.mark.django_db
def test_docs_url_null_removes_swagger(serve):
    from tests.restapp.interfaces import OrderInterface

    client = serve([OrderInterface], RestConfig(docs_url=None))
    assert client.get("/docs").status_code == 404
    assert client.get("/openapi.json").status_code == 200


def test_redoc_is_served(client):
    assert client.get("/redoc").status_code == 200
