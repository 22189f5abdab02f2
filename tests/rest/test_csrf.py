"""CSRF: whenever a cookie session may authenticate an unsafe request, Django's check runs."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from loom_django.rest.model import RestInterface
from tests.rest.conftest import body
from tests.restapp.interfaces import TokenAuth
from tests.restapp.models import RestProduct

pytestmark = pytest.mark.django_db
JSON = "application/json"
NEW = {"sku": "CSRF-1", "name": "x", "price_cents": 1, "stock": 1}
PERMS = ("add_restproduct", "change_restproduct", "delete_restproduct", "view_restproduct")


class PermissionOnlyProducts(RestInterface[RestProduct]):
    """Permissions but no auth: the principal is ``request.user`` from the session cookie."""

    prefix = "/perm-products"
    auto = True
    permissions = ("restapp.change_restproduct",)


class AsyncPermissionOnlyProducts(RestInterface[RestProduct]):
    prefix = "/async-perm-products"
    auto = True
    handler_mode = "async"
    permissions = ("restapp.change_restproduct",)


def _session_user(request: Any) -> Any:
    user = request.user
    return user if user.is_authenticated else None


class CallableAuthProducts(RestInterface[RestProduct]):
    """A plain callable auth that reads the session."""

    prefix = "/callable-products"
    auto = True
    auth = _session_user


class BearerProducts(RestInterface[RestProduct]):
    prefix = "/bearer-products"
    auto = True
    auth = TokenAuth()


def _victim(client: Client) -> None:
    user = User.objects.create_user("victim", password="pw")
    for codename in PERMS:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(user)


def _model() -> Any:
    from loom_django.orm import django_model_for

    return django_model_for(RestProduct)


def _product() -> Any:
    return _model().objects.create(sku="CSRF-0", name="before", price_cents=5, stock=1)


def _cross_site(serve: Any, interface: type[Any]) -> Client:
    serve([interface])
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    _victim(client)
    return client


def _with_token(client: Client) -> dict[str, str]:
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    return {"HTTP_X_CSRFTOKEN": token}


@pytest.mark.parametrize("interface", [PermissionOnlyProducts, AsyncPermissionOnlyProducts])
def test_cross_site_patch_with_session_cookie_is_refused(serve, interface):
    product = _product()
    client = _cross_site(serve, interface)
    response = client.patch(
        f"{interface.prefix}/{product.pk}", {"name": "pwned"}, content_type=JSON
    )
    assert response.status_code == 403
    assert body(response)["detail"]["code"] == "forbidden"
    assert "CSRF" in body(response)["detail"]["message"]
    product.refresh_from_db()
    assert product.name == "before"


def test_cross_site_delete_with_session_cookie_is_refused(serve):
    product = _product()
    client = _cross_site(serve, PermissionOnlyProducts)
    response = client.delete(f"/perm-products/{product.pk}")
    assert response.status_code == 403
    assert _model().objects.filter(pk=product.pk).exists()


def test_cross_site_create_with_session_cookie_is_refused(serve):
    client = _cross_site(serve, PermissionOnlyProducts)
    response = client.post("/perm-products/", NEW, content_type=JSON)
    assert response.status_code == 403
    assert not _model().objects.filter(sku="CSRF-1").exists()


def test_same_site_write_with_csrf_token_succeeds(serve):
    product = _product()
    client = _cross_site(serve, PermissionOnlyProducts)
    response = client.patch(
        f"/perm-products/{product.pk}", {"name": "after"}, content_type=JSON, **_with_token(client)
    )
    assert response.status_code == 200
    product.refresh_from_db()
    assert product.name == "after"


def test_safe_methods_need_no_csrf_token(serve):
    product = _product()
    client = _cross_site(serve, PermissionOnlyProducts)
    assert client.get(f"/perm-products/{product.pk}").status_code == 200


def test_callable_auth_reading_the_session_is_csrf_checked(serve):
    client = _cross_site(serve, CallableAuthProducts)
    assert client.post("/callable-products/", NEW, content_type=JSON).status_code == 403
    ok = client.post("/callable-products/", NEW, content_type=JSON, **_with_token(client))
    assert ok.status_code == 201


def test_bearer_authenticated_write_needs_no_csrf_token_despite_a_session(serve):
    client = _cross_site(serve, BearerProducts)
    response = client.post(
        "/bearer-products/", NEW, content_type=JSON, HTTP_AUTHORIZATION="Bearer good-token"
    )
    assert response.status_code == 201


def test_write_without_any_cookie_is_not_csrf_checked(serve):
    serve([PermissionOnlyProducts])
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    response = client.post("/perm-products/", NEW, content_type=JSON)
    assert response.status_code == 401
