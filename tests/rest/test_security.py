"""Authentication, permissions, CSRF and request size limits."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from ninja.security import django_auth

from loom_django.rest.autocrud import build_auto_routes
from loom_django.rest.config import RestConfig
from loom_django.rest.model import RestInterface, RestRoute
from tests.rest.conftest import body
from tests.restapp.models import RestProduct

pytestmark = pytest.mark.django_db
JSON = "application/json"
NEW = {"sku": "SEC-1", "name": "x", "price_cents": 1, "stock": 1}


def test_missing_bearer_token_is_401_envelope(client):
    response = client.get("/secure-products/")
    assert response.status_code == 401
    assert body(response)["detail"]["code"] == "unauthorized"


def test_valid_bearer_token_is_accepted(client):
    response = client.get("/secure-products/", HTTP_AUTHORIZATION="Bearer good-token")
    assert response.status_code == 200


def test_wrong_bearer_token_is_401(client):
    response = client.get("/secure-products/", HTTP_AUTHORIZATION="Bearer bad")
    assert response.status_code == 401


def test_route_auth_none_makes_it_public(client):
    assert client.get("/secure-products/public/nothing").status_code == 200


def test_permission_callable_denies_with_403(client):
    response = client.post(
        "/secure-products/", NEW, content_type=JSON, HTTP_AUTHORIZATION="Bearer good-token"
    )
    assert response.status_code == 403
    assert body(response)["detail"]["code"] == "forbidden"
    allowed = client.post(
        "/secure-products/",
        NEW,
        content_type=JSON,
        HTTP_AUTHORIZATION="Bearer good-token",
        HTTP_X_ALLOWED="yes",
    )
    assert allowed.status_code == 201


def test_openapi_documents_bearer_security(client):
    schema = body(client.get("/openapi.json"))
    assert schema["paths"]["/secure-products/"]["get"]["security"] == [{"TokenAuth": []}]
    assert "TokenAuth" in schema["components"]["securitySchemes"]


class SessionProducts(RestInterface[RestProduct]):
    prefix = "/session-products"
    auth = django_auth
    routes = (
        *build_auto_routes(RestProduct, ("list",)),
        RestRoute(
            use_case=build_auto_routes(RestProduct, ("create",))[0].use_case,
            method="POST",
            path="/",
            status_code=201,
            permissions=("restapp.add_restproduct",),
        ),
    )


def _user(username: str, *perms: str) -> User:
    user = User.objects.create_user(username, password="pw")
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


def test_session_auth_requires_login(serve):
    client = serve([SessionProducts])
    assert client.get("/session-products/").status_code == 401
    client.force_login(_user("reader"))
    assert client.get("/session-products/").status_code == 200


def test_django_permission_name_is_checked(serve):
    client = serve([SessionProducts])
    client.force_login(_user("reader"))
    assert client.post("/session-products/", NEW, content_type=JSON).status_code == 403
    client.force_login(_user("writer", "add_restproduct"))
    assert client.post("/session-products/", NEW, content_type=JSON).status_code == 201


def test_session_auth_enforces_csrf(serve):
    from django.test import Client

    serve([SessionProducts])
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(_user("writer", "add_restproduct"))
    response = client.post("/session-products/", NEW, content_type=JSON)
    assert response.status_code in (401, 403)
    client.get("/session-products/")
    token = client.cookies.get("csrftoken")
    if token is None:
        from django.middleware.csrf import _get_new_csrf_string

        token_value = _get_new_csrf_string()
        client.cookies["csrftoken"] = token_value
    else:
        token_value = token.value
    ok = client.post("/session-products/", NEW, content_type=JSON, HTTP_X_CSRFTOKEN=token_value)
    assert ok.status_code == 201


def test_body_larger_than_limit_is_413(serve):
    from tests.restapp.interfaces import ProductInterface

    client = serve([ProductInterface], RestConfig(max_body_size=64))
    response = client.post("/products/", {**NEW, "name": "x" * 200}, content_type=JSON)
    assert response.status_code == 413
    assert body(response)["detail"]["code"] == "payload_too_large"
    assert client.post("/products/", NEW, content_type=JSON).status_code == 201


def test_strict_trailing_slash_serves_only_declared_form(serve):
    from tests.restapp.interfaces import ProductInterface

    client = serve([ProductInterface], RestConfig(trailing_slash="strict"))
    assert client.get("/products/").status_code == 200
    assert client.get("/products").status_code == 404
